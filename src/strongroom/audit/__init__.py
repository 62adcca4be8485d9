"""The audit trail: one CloudTrail-shaped record per request, durable before the response, chained.

- :mod:`.events`: the record of one request (what it holds, and what it never holds).
- :mod:`.chain`: the line format and the hash chain.
- :mod:`.file_sink`: writing, with group commit, shared by every worker.
- :mod:`.trail`: reading: verify, select, the last use of each key.
- :mod:`.recorder`: what the protocol edge calls.
"""
