"""The definitions' tests share the platform tests' instance, data folder and science stand-ins."""

from nascar_dfs_tests.platform.conftest import (  # noqa: F401 (fixtures and hooks are found by name)
    data_dir,
    fake,
    fake_defs,
    instance,
    pytest_collection_modifyitems,
    registered,
    sqlite_instance,
    storage_dir,
)
