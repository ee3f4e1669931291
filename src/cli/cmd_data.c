/* matrice data: placeholder until the benchmark builder lands (issue 4). */
#include <stdio.h>

int mt_cmd_data(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "matrice data: not built yet\n");
    return 2;
}
