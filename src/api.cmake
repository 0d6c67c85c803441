# The HTTP API (httpd.c: the server; api.c: the routes) and the
# Prometheus text writer, added to respawn_core.  Included from the
# top-level CMakeLists.txt right after respawn_core is defined.
target_sources(respawn_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/httpd.c
  ${CMAKE_CURRENT_LIST_DIR}/metrics.c
  ${CMAKE_CURRENT_LIST_DIR}/api.c)
target_link_libraries(respawn_core PUBLIC m)
target_sources(respawn_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/daemon_ops.c)
# The fleet lease renewer runs in a thread of its own.
find_package(Threads REQUIRED)
target_sources(respawn_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/lease.c)
target_link_libraries(respawn_core PUBLIC Threads::Threads)
# The store's worker: store calls off the loop (a thread for PostgreSQL).
target_sources(respawn_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/storeq.c)
target_sources(respawn_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/daemon_store.c
  ${CMAKE_CURRENT_LIST_DIR}/daemon_fleet.c)
