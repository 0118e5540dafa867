/* A tiny static program for Plinth's `scratch` example: it says who it runs as,
 * so a test can check that the image is non-root. Build: see ../../README.md. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    printf("hello from plinth: uid=%u gid=%u\n", (unsigned)getuid(), (unsigned)getgid());
    for (int i = 1; i < argc; i++) printf("arg: %s\n", argv[i]);
    return 0;
}
