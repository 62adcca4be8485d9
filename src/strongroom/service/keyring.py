"""The key repository: resolves identifiers to keys and keeps keys, aliases and unwrapped material cached.

Operations call this, never the store. The common path (a known key, alias or ciphertext) is served from
per-worker dictionaries; the store is read on a miss, and entries are evicted when the change log says
the key or alias changed (:class:`strongroom.service.changes.CacheCoordinator`). Keys pending deletion
whose window has passed are purged on sight (and by the periodic sweep), so a deleted key stops
resolving exactly when its deletion date passes.
"""

from __future__ import annotations

from collections.abc import Callable

from strongroom.clock import Clock, Random
from strongroom.domain.aliases import Alias
from strongroom.domain.asymmetric import AsymmetricKey, MacKey, generate_material, is_rsa
from strongroom.domain.ciphertext import MaterialCipher
from strongroom.domain.grants import Grant
from strongroom.domain.ids import KeyRef, RefKind, alias_arn, key_arn, parse_key_identifier
from strongroom.domain.keys import KeyMaterial, KeySpec, KmsKey
from strongroom.domain.rotation import Rotation, RotationType, is_due, rotated
from strongroom.errors import InvalidArnException, NotFoundException
from strongroom.keystore.base import RootOfTrust
from strongroom.service.cache_stats import CacheStats
from strongroom.service.grant_tokens import GrantTokens
from strongroom.service.key_pool import RsaKeyPool
from strongroom.storage.base import Change, ChangeKind, MetadataStore, WrappedMaterial

__all__ = ["KeyRepository", "Principal"]

_MAX_CACHED = 100_000


class Principal:
    """Who is asking, and where: the account and region every lookup is scoped to."""

    __slots__ = ("account_id", "arn", "region")

    def __init__(self, account_id: str, region: str, arn: str) -> None:
        self.account_id = account_id
        self.region = region
        self.arn = arn


def material_context(key: KmsKey | tuple[str, str, str], version: int, material_id: str) -> bytes:
    """Binds wrapped material to its key and version, so rows cannot be swapped between keys."""
    arn = key.arn if isinstance(key, KmsKey) else key_arn(*key)
    return f"strongroom key material\x00{arn}\x00{version}\x00{material_id}".encode()


class KeyRepository:
    def __init__(
        self,
        store: MetadataStore,
        root: RootOfTrust,
        clock: Clock,
        rng: Random,
        stats: CacheStats | None = None,
    ) -> None:
        self._stats = stats or CacheStats()
        self._store = store
        self._root = root
        self._clock = clock
        self._rng = rng
        self._keys: dict[tuple[str, str], KmsKey] = {}
        self._ciphers: dict[tuple[str, str, int], MaterialCipher] = {}
        self._material_ids: dict[tuple[str, str, int], str] = {}  # filled with the ciphers
        self._private: dict[tuple[str, str], AsymmetricKey | MacKey] = {}  # asymmetric and HMAC keys
        self._rsa_pool = RsaKeyPool(lambda spec: generate_material(spec, self._rng.bytes))
        self._aliases: dict[tuple[str, str, str], str] = {}
        self._alias_names: dict[tuple[str, str], tuple[str, ...]] = {}
        self.grant_tokens = GrantTokens(store, root, rng.bytes)

    # -- cache maintenance -------------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        if change.kind is ChangeKind.KEY:
            self._keys.pop((change.region, change.name), None)
            for stale in [c for c in self._ciphers if c[0] == change.region and c[1] == change.name]:
                del self._ciphers[stale]
                self._material_ids.pop(stale, None)
            self._private.pop((change.region, change.name), None)
        elif change.kind is ChangeKind.ALIAS:
            for alias in [a for a in self._aliases if a[1] == change.region and a[2] == change.name]:
                del self._aliases[alias]
            # The change names the alias, not the keys it left or joined: forget every key's list.
            self._alias_names.clear()

    def flush(self) -> None:
        self._keys.clear()
        self._ciphers.clear()
        self._material_ids.clear()
        self._private.clear()
        self._aliases.clear()
        self._alias_names.clear()

    # -- resolution ----------------------------------------------------------------------------------
    def resolve(self, principal: Principal, identifier: str, *, allow_alias: bool = True) -> KmsKey:
        """Resolve any identifier form to a live key in the principal's region (digest section 2)."""
        ref = parse_key_identifier(identifier)
        if not allow_alias and ref.kind is RefKind.ALIAS:
            raise InvalidArnException("Key Aliases are not supported for this operation.")
        self._check_arn_scope(principal, ref)
        account = ref.account or principal.account_id
        if ref.kind is RefKind.ALIAS:
            key_id = self._alias_target(account, principal.region, ref.name)
            if key_id is None:
                raise NotFoundException(
                    f"Alias {alias_arn(principal.region, account, ref.name)} is not found."
                )
        else:
            key_id = ref.name
        key = self.find(principal.region, key_id)
        if key is None or key.account_id != account:
            raise NotFoundException(f"Key '{key_arn(principal.region, account, key_id)}' does not exist")
        return key

    def find(self, region: str, key_id: str) -> KmsKey | None:
        """A live key by region and id, from the cache when possible; purges an expired key."""
        key = self._keys.get((region, key_id))
        self._stats.count("key", key is not None)
        if key is None:
            key = self._store.get_key(region, key_id)
            if key is None:
                return None
            if len(self._keys) > _MAX_CACHED:
                self._keys.clear()
            self._keys[(region, key_id)] = key
        if key.deletion_date is not None and key.is_expired(self._clock.now()):
            self.purge(key)
            return None
        return key

    def _check_arn_scope(self, principal: Principal, ref: KeyRef) -> None:
        """An ARN names a key (or alias) in its own account, which may be another one: a key of
        another account is used by its key ARN or alias ARN (authorization then decides); a bare key id
        or alias name always means the caller's account."""
        if ref.region is not None and ref.region != principal.region:
            raise NotFoundException(f"Invalid arn {ref.region}")

    def _alias_target(self, account: str, region: str, name: str) -> str | None:
        cached = self._aliases.get((account, region, name))
        self._stats.count("alias", cached is not None)
        if cached is not None:
            return cached
        alias = self._store.get_alias(account, region, name)
        if alias is None:
            return None
        if len(self._aliases) > _MAX_CACHED:
            self._aliases.clear()
        self._aliases[(account, region, name)] = alias.key_id
        return alias.key_id

    # -- key material --------------------------------------------------------------------------------
    def cipher(self, key: KmsKey, version: int) -> MaterialCipher | None:
        """The AEAD for one material version of a key, unwrapped once and cached; None if unknown (or
        the key is not a symmetric encryption key, whatever a forged ciphertext names)."""
        if key.key_spec is not KeySpec.SYMMETRIC_DEFAULT:
            return None
        cached = self._ciphers.get((key.region, key.key_id, version))
        self._stats.count("cipher", cached is not None)
        if cached is not None:
            return cached
        # Every version at once: after a rotation, ciphertexts of all earlier materials keep coming.
        if len(self._ciphers) > _MAX_CACHED:
            self._ciphers.clear()
            self._material_ids.clear()
        for material in self._store.get_materials(key.region, key.key_id):
            secret = self._root.unwrap(
                material.wrapped, material_context(key, material.version, material.material_id)
            )
            slot = (key.region, key.key_id, material.version)
            self._ciphers[slot] = MaterialCipher(key.key_id, material.version, secret)
            self._material_ids[slot] = material.material_id
        return self._ciphers.get((key.region, key.key_id, version))

    def material_id(self, key: KmsKey, version: int) -> str | None:
        """The KeyMaterialId of one version; from memory once :meth:`cipher` has loaded the key's
        materials (as decrypting with that version has)."""
        if version == key.current_material:
            return key.current_material_id
        cached = self._material_ids.get((key.region, key.key_id, version))
        if cached is not None:
            return cached
        for material in self._store.get_materials(key.region, key.key_id):
            if material.version == version:
                return material.material_id
        return None

    # -- rotation ------------------------------------------------------------------------------------
    def rotate(self, key: KmsKey, rotation_type: RotationType, due: float | None = None) -> KmsKey | None:
        """Give ``key`` new material and make it current. ``due``: an automatic rotation of a key due on
        that date, which only one worker (or node) performs; None if another one already did (or the
        key changed meanwhile), and then nothing was written."""
        if key.current_material is None:
            raise LookupError(f"no key material for {key.arn}")
        version = key.current_material + 1
        now = self._clock.now()
        material, wrapped = self.new_material(key, version)
        after = rotated(key, version, material.material_id, rotation_type, now)
        rotation = Rotation(version, material.material_id, round(now, 3), rotation_type)
        if not self._store.rotate_key(key, after, wrapped, rotation, due):
            return None
        self._keys[(key.region, key.key_id)] = after
        return after

    def rotations(self, key: KmsKey) -> list[Rotation]:
        """Every material of the key, oldest first (ListKeyRotations)."""
        return self._store.list_rotations(key.region, key.key_id)

    def due_for_rotation(self) -> list[KmsKey]:
        """Keys whose automatic rotation is due, read from the store (not the cache: another worker
        may have rotated them a moment ago)."""
        due = []
        for region, key_id in self._store.due_rotations(self._clock.now()):
            key = self._store.get_key(region, key_id)
            if key is not None and is_due(key, self._clock.now()):
                due.append(key)
        return due

    def asymmetric_key(self, key: KmsKey) -> AsymmetricKey:
        """The private key of an asymmetric KMS key, unwrapped and loaded once, then cached."""
        loaded = self._private_material(
            key, lambda secret: AsymmetricKey(key.key_spec, key.key_usage, secret)
        )
        assert isinstance(loaded, AsymmetricKey)
        return loaded

    def mac_key(self, key: KmsKey) -> MacKey:
        """The secret of an HMAC KMS key, unwrapped once, then cached."""
        loaded = self._private_material(key, lambda secret: MacKey(key.key_spec, secret))
        assert isinstance(loaded, MacKey)
        return loaded

    def _private_material(
        self, key: KmsKey, load: Callable[[bytes], AsymmetricKey | MacKey]
    ) -> AsymmetricKey | MacKey:
        cached = self._private.get((key.region, key.key_id))
        self._stats.count("private key", cached is not None)
        if cached is None:
            cached = self._private[(key.region, key.key_id)] = load(self._current_secret(key))
        return cached

    def _current_secret(self, key: KmsKey) -> bytes:
        for material in self._store.get_materials(key.region, key.key_id):
            if material.version == key.current_material:
                return self._root.unwrap(
                    material.wrapped, material_context(key, material.version, material.material_id)
                )
        raise LookupError(f"no key material for {key.arn}")

    def new_private_key(self, spec: KeySpec) -> bytes:
        """New material of a non-symmetric spec (DER PKCS#8, or an HMAC key); RSA keys come from a pool
        filled in the background (:mod:`strongroom.service.key_pool`)."""
        if is_rsa(spec):
            return self._rsa_pool.take(spec)
        return generate_material(spec, self._rng.bytes)

    def new_material(self, key: KmsKey, version: int) -> tuple[KeyMaterial, WrappedMaterial]:
        """New material for a key of its spec: 32 random bytes for a symmetric key, the HMAC key for
        an HMAC key, a DER PKCS#8 private key for an asymmetric one."""
        if key.key_spec is KeySpec.SYMMETRIC_DEFAULT:
            secret = self._rng.bytes(32)
        else:
            secret = self.new_private_key(key.key_spec)
        material = KeyMaterial(version, self._rng.bytes(32).hex(), secret)
        wrapped = self._root.wrap(material.secret, material_context(key, version, material.material_id))
        return material, WrappedMaterial(version, material.material_id, wrapped, self._clock.now())

    # -- persistence ---------------------------------------------------------------------------------
    def insert(self, key: KmsKey, material: WrappedMaterial | None, policy: str | None = None) -> None:
        self._store.insert_key(key, material, policy)
        self._keys.pop((key.region, key.key_id), None)

    def save(self, key: KmsKey) -> None:
        self._store.update_key(key)
        self._keys[(key.region, key.key_id)] = key

    def purge(self, key: KmsKey) -> None:
        """Delete a key whose deletion window has passed, with its material and aliases."""
        self._store.delete_key(key.region, key.key_id)
        self.on_change(Change(0, ChangeKind.KEY, key.region, key.key_id))
        for cached in [
            a for a, target in self._aliases.items() if a[1] == key.region and target == key.key_id
        ]:
            del self._aliases[cached]

    def purge_expired(self) -> int:
        """The periodic sweep: delete every key whose deletion date has passed. Returns how many."""
        count = 0
        for region, key_id in self._store.expired_keys(self._clock.now()):
            key = self._store.get_key(region, key_id)
            if key is not None and key.is_expired(self._clock.now()):
                self.purge(key)
                count += 1
        return count

    def list_keys(self, principal: Principal, after: str | None, limit: int) -> list[KmsKey]:
        self.purge_expired()
        return self._store.list_keys(principal.account_id, principal.region, after, limit)

    # -- aliases -------------------------------------------------------------------------------------
    def get_alias(self, principal: Principal, name: str) -> Alias | None:
        return self._store.get_alias(principal.account_id, principal.region, name)

    def insert_alias(self, alias: Alias) -> bool:
        self._alias_names.clear()
        return self._store.insert_alias(alias)

    def update_alias(self, alias: Alias) -> None:
        self._store.update_alias(alias)
        self._aliases.pop((alias.account_id, alias.region, alias.name), None)
        self._alias_names.clear()

    def delete_alias(self, principal: Principal, name: str) -> bool:
        self._aliases.pop((principal.account_id, principal.region, name), None)
        self._alias_names.clear()
        return self._store.delete_alias(principal.account_id, principal.region, name)

    def list_aliases(
        self, principal: Principal, key_id: str | None, after: str | None, limit: int
    ) -> list[Alias]:
        self.purge_expired()
        return self._store.list_aliases(principal.account_id, principal.region, key_id, after, limit)

    def alias_names(self, key: KmsKey) -> list[str]:
        """The key's alias names (for ``kms:ResourceAliases``), cached until an alias changes."""
        cached = self._alias_names.get((key.region, key.key_id))
        if cached is None:
            aliases = self._store.list_aliases(key.account_id, key.region, key.key_id, None, 1000)
            cached = tuple(a.name for a in aliases)
            if len(self._alias_names) > _MAX_CACHED:
                self._alias_names.clear()
            self._alias_names[(key.region, key.key_id)] = cached
        return list(cached)

    def put_key_policy(self, key: KmsKey, document: str) -> None:
        self._store.put_key_policy(key.region, key.key_id, document)

    def principal_exists(self, arn: str) -> bool:
        return self._store.get_principal_by_arn(arn) is not None

    # -- grants ---------------------------------------------------------------------------------------
    def grants_of(self, key: KmsKey) -> list[Grant]:
        return self._store.list_grants(key.region, key.key_id)

    def grants_named(self, key: KmsKey, name: str) -> list[Grant]:
        return self._store.find_grant_by_name(key.region, key.key_id, name)

    def retirable_grants(self, retiring_principal: str) -> list[Grant]:
        return self._store.list_retirable_grants(retiring_principal)

    def get_grant(self, grant_id: str) -> Grant | None:
        return self._store.get_grant(grant_id)

    def insert_grant(self, grant: Grant) -> None:
        self._store.insert_grant(grant)

    def delete_grant(self, grant_id: str) -> bool:
        return self._store.delete_grant(grant_id)

    def count_aliases(self, key: KmsKey) -> int:
        return self._store.count_aliases(key.region, key.key_id)

    def now(self) -> float:
        return self._clock.now()
