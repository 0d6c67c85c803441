# Unit tests of the daemon's modules that need no process: the session
# registry, the supervisor's event queue, the asynchronous steps' helper.
# Included from tests/CMakeLists.txt, which defines respawn_unit_test().
foreach(t test_sessions test_supervisor test_jobs)
  respawn_unit_test(${t})
endforeach()
