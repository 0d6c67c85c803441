# Webhook delivery (src/webhook.c), added to respawn_core, and libcrypto
# for its HMAC-SHA256 signatures.  Its libcurl glue, src/curlev.c, comes
# with src/bd.cmake, which is always included.  Included from the
# top-level CMakeLists.txt right after respawn_core is defined.
pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
target_sources(respawn_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/webhook.c)
target_link_libraries(respawn_core PUBLIC PkgConfig::LIBCRYPTO)
