# Unit tests of src/core/billing.c.  Included from tests/CMakeLists.txt,
# which defines respawn_unit_test().
respawn_core_test(test_billing)
