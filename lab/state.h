/*
 * Saving and loading the lab's state (clock, generator, inventory,
 * allocations, ledger, WhatsApp phones, secrets) as one JSON file, so a
 * test can restart the lab and find the same world.  Tunnels, live
 * connections, faults and the CONNECT log are not saved.
 */
#ifndef LAB_STATE_H
#define LAB_STATE_H

struct lab;

/* Written to a temporary file and renamed, so a reader never sees half. */
int	state_save(struct lab *lab, const char *path);
/* -ENOENT when there is no file, -EINVAL when it does not parse. */
int	state_load(struct lab *lab, const char *path);

#endif
