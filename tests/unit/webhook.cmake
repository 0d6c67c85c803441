# Tests of webhook delivery (src/http/webhook*.c): signatures against RFC 4231's
# vectors and real deliveries to an evhttp server in the test's own loop.
# Included from tests/CMakeLists.txt, which defines respawn_unit_test().
respawn_unit_test(test_webhook)
