# Tests of the Bright Data client (src/provider/bdclient*.c, bdjson.c): the
# parser and username unit tests, and the driver program that
# tests/integration/test_bdclient.sh runs against respawn-lab.  Included
# from tests/CMakeLists.txt, which defines respawn_unit_test().
respawn_unit_test(test_bdjson)

add_executable(bdclient_driver ${CMAKE_CURRENT_LIST_DIR}/../bdclient_driver.c)
target_link_libraries(bdclient_driver PRIVATE respawn_cli)

# Reconciliation of the provider's listing with a real store, rule by rule.
respawn_unit_test(test_reconcile)
