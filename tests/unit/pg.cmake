# Tests of the PostgreSQL store that only it has (fleet mode).  Without
# RESPAWN_TEST_PG_URL they skip; tests/integration/test_store_pg.sh runs
# them, and test_store's shared cases, against a throwaway cluster.
# Included from tests/CMakeLists.txt, which defines respawn_unit_test().
respawn_unit_test(test_store_pg)
