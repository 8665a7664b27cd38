#ifndef GREET_H
#define GREET_H
/* Writes "hello, NAME" to standard output. */
void greet(const char *name);
#endif
