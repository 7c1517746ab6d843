// The reference's reader as a whole process: gguf_init_from_file (no_alloc, no ggml context) on the
// file given, from the pinned prebuilt libggml-base.so. Exit 0 if it read the file, 1 if not.
#include <gguf.h>
#include <stdio.h>

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.gguf\n", argv[0]);
        return 2;
    }
    struct gguf_init_params params = {true, NULL};
    struct gguf_context* ctx = gguf_init_from_file(argv[1], params);
    if (ctx == NULL) return 1;
    printf("%lld key-values, %lld tensors\n", (long long)gguf_get_n_kv(ctx), (long long)gguf_get_n_tensors(ctx));
    gguf_free(ctx);
    return 0;
}
