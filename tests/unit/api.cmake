# Unit tests of the HTTP front (src/httpd.c: route matching, keys) and the
# Prometheus writer (src/metrics.c).  Included from tests/CMakeLists.txt,
# which defines respawn_unit_test().
respawn_unit_test(test_httpd)
# Offloaded routes over loopback sockets: deferred answers, 503s, lifetimes.
respawn_unit_test(test_httpd_offload)
# The store's worker (src/storeq.c), both modes.
respawn_unit_test(test_storeq)
# Pairing's and the dashboard's pure parts: Accept, the QR code's PNG, the
# embedded files, the routes.
respawn_unit_test(test_pairing)
