// CSentinelLinux: the raw Linux syscalls, kernel constants and BPF helpers that Swift cannot
// express (variadic `syscall`/`prctl`, function-like macros, `_GNU_SOURCE`-only declarations).
// Every symbol carries the `sentinel_` prefix so it can never collide with a later libc symbol.
// No policy logic lives here: every decision is made in Swift.

#ifndef C_SENTINEL_LINUX_H
#define C_SENTINEL_LINUX_H

#include "CSentinelSeccomp.h"
#include <stdint.h>

/// Returns the kernel's `SYS_*` number for `gettid`; exists so the target is never empty.
/// (Placeholder until the sandbox shim lands.)
int sentinel_gettid(void);

#endif
