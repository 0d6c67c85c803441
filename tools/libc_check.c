/*
 * Linked with the whole of respawn_core and respawn_base and nothing but
 * libc (src/CMakeLists.txt): if any object of the pure layers calls into
 * the shell (libevent, a database, libcurl, the daemon), this program
 * does not link, and the build fails.  It is never run.
 */
int	main(void);

int
main(void)
{
	return 0;
}
