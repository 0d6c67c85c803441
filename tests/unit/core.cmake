# Unit tests of the pure decision modules in src/core.  Included from
# tests/CMakeLists.txt, which defines respawn_unit_test().
foreach(t test_fallback test_backoff test_breaker)
  respawn_core_test(${t})
endforeach()
