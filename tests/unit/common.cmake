# Unit tests of the small shared modules: util, buf, argv, log, validate
# and the generated country table.  Included from tests/CMakeLists.txt,
# which defines respawn_unit_test().
foreach(t test_util test_buf test_argv test_log test_validate test_country)
  respawn_unit_test(${t})
endforeach()
