"""Where every artifact lives: a folder (local) or a bucket (S3), same keys.

The store is the single source of truth: the driver keeps nothing that the
store lacks. See ``base.Store`` for the contract every implementation meets.
"""

from lamforest.store.base import Store, StoreError, get_json, open_store, put_json
from lamforest.store.local import LocalStore

__all__ = ["LocalStore", "Store", "StoreError", "get_json", "open_store", "put_json"]
