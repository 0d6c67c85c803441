# The Bright Data account API client and its JSON parsers, added to
# respawn_core, with curlev.c, the libcurl-multi-on-libevent glue it shares
# with webhook.c.  Included from the top-level CMakeLists.txt right after
# respawn_core is defined.
target_sources(respawn_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/bdclient.c
  ${CMAKE_CURRENT_LIST_DIR}/bdjson.c
  ${CMAKE_CURRENT_LIST_DIR}/curlev.c)
