#ifndef _GNU_SOURCE
#error "CSentinelLinux must be compiled with _GNU_SOURCE (see Package.swift)"
#endif
#include "CSentinelLinux.h"
#include <sys/syscall.h>
#include <unistd.h>

int sentinel_gettid(void) { return (int)syscall(SYS_gettid); }
