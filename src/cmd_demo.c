/*
 * `respawn demo`: the README's main job (being written).
 */
#include "cli.h"

const struct cli_command cmd_demo_commands[] = {
	{ NULL, NULL, NULL, NULL, false },
};
