/* OpenSSL 3 + pkcs11-provider: signatures in one process whose contexts
 * OpenSSL duplicates mid-operation (EVP_MD_CTX_copy_ex of a context that
 * has absorbed data, and EVP_DigestSignFinal without the FINALISE flag,
 * which finishes a duplicate). pkcs11-provider clones the token operation
 * with C_GetOperationState/C_SetOperationState when the token allows it,
 * then returns the clone's session to its pool unfinished; the next
 * signature that draws that session must still work.
 *
 * usage: openssl_dup KEY-URI ROUNDS OUT-PREFIX
 * Writes OUT-PREFIX.N.sig for each round (the duplicate's and the
 * original's signatures over the same data) for the caller to verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/store.h>

static EVP_PKEY *load_key(const char *uri)
{
    OSSL_STORE_CTX *st = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *key = NULL;
    if (st == NULL)
        return NULL;
    while (key == NULL && !OSSL_STORE_eof(st)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(st);
        if (info != NULL && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            key = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    return key;
}

static int write_sig(const char *prefix, int n, const unsigned char *sig, size_t len)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s.%d.sig", prefix, n);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(sig, 1, len, f) != len)
        return 0;
    return fclose(f) == 0;
}

/* One signature by the finishing call on `ctx`. */
static int finish(EVP_MD_CTX *ctx, const char *prefix, int n)
{
    unsigned char sig[1024];
    size_t len = 0;
    if (EVP_DigestSignFinal(ctx, NULL, &len) != 1 || len > sizeof sig)
        return 0;
    if (EVP_DigestSignFinal(ctx, sig, &len) != 1)
        return 0;
    return write_sig(prefix, n, sig, len);
}

int main(int argc, char **argv)
{
    static const unsigned char part1[] = "the first part, ";
    static const unsigned char part2[] = "then the second";
    EVP_PKEY *key;
    int rounds, n = 0;

    if (argc != 4)
        return 2;
    rounds = atoi(argv[2]);
    key = load_key(argv[1]);
    if (key == NULL) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        ERR_print_errors_fp(stderr);
        return 1;
    }
    for (int r = 0; r < rounds; r++) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_MD_CTX *copy = EVP_MD_CTX_new();
        if (ctx == NULL || copy == NULL
            || EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL) != 1
            || EVP_DigestSignUpdate(ctx, part1, sizeof part1 - 1) != 1
            || EVP_MD_CTX_copy_ex(copy, ctx) != 1
            || EVP_DigestSignUpdate(copy, part2, sizeof part2 - 1) != 1
            || !finish(copy, argv[3], n++)) {
            fprintf(stderr, "round %d: duplicated signature failed\n", r);
            ERR_print_errors_fp(stderr);
            return 1;
        }
        /* The original either carries on (the token cloned the state)
         * or lost its session to the copy; both are what pkcs11-provider
         * allows. Only a fresh signature afterwards must work. */
        EVP_MD_CTX_free(ctx);
        EVP_MD_CTX_free(copy);
        ctx = EVP_MD_CTX_new();
        if (ctx == NULL
            || EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL) != 1
            || EVP_DigestSignUpdate(ctx, part1, sizeof part1 - 1) != 1
            || EVP_DigestSignUpdate(ctx, part2, sizeof part2 - 1) != 1
            || !finish(ctx, argv[3], n++)) {
            fprintf(stderr, "round %d: the next signature failed\n", r);
            ERR_print_errors_fp(stderr);
            return 1;
        }
        EVP_MD_CTX_free(ctx);
    }
    printf("%d signatures\n", n);
    EVP_PKEY_free(key);
    return 0;
}
