/*
 * The layers of the tree, checked from its includes (docs/architecture.md draws them):
 *
 *   server/main.c -> server/cli -> server/http, handlers, workers -> models
 *   models (aggregates) -> models/providers -> models/store -> models/base
 *
 * Every `#include "..."` of server/, handlers/, models/ and workers/ must name an existing
 * file by its path from the root (so a crossing shows where it is written), must follow an
 * allowed edge of the table below, and no two modules (a .c with its .h) may include each
 * other through any chain. Nothing below the HTTP plumbing includes h2o. Reads the source
 * tree under SF_SOURCE_DIR; runs no code of the project.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILES    512
#define MAX_INCLUDES 48
#define PATH_LEN     128

typedef enum layer {
    L_NONE,
    L_BASE,
    L_STORE,
    L_PROVIDERS,
    L_MODELS,
    L_WORKERS,
    L_HANDLERS,
    L_HTTP,
    L_CLI,
    L_MAIN
} layer_t;

static const char *const layer_names[] = {"?",       "models/base", "models/store", "models/providers", "models",
                                          "workers", "handlers",    "server/http",  "server/cli",       "server/main"};

/* allowed[from] is the set of layers a file of that layer may include (bit per layer). */
#define B(l) (1u << (l))
static const unsigned allowed[] = {
    [L_BASE] = B(L_BASE),
    [L_STORE] = B(L_BASE) | B(L_STORE),
    [L_PROVIDERS] = B(L_BASE) | B(L_STORE) | B(L_PROVIDERS),
    [L_MODELS] = B(L_BASE) | B(L_STORE) | B(L_PROVIDERS) | B(L_MODELS),
    [L_WORKERS] = B(L_BASE) | B(L_STORE) | B(L_PROVIDERS) | B(L_MODELS) | B(L_WORKERS),
    [L_HANDLERS] = B(L_BASE) | B(L_STORE) | B(L_PROVIDERS) | B(L_MODELS) | B(L_HTTP) | B(L_HANDLERS),
    [L_HTTP] = B(L_BASE) | B(L_STORE) | B(L_PROVIDERS) | B(L_MODELS) | B(L_HTTP),
    [L_CLI] =
        B(L_BASE) | B(L_STORE) | B(L_PROVIDERS) | B(L_MODELS) | B(L_WORKERS) | B(L_HANDLERS) | B(L_HTTP) | B(L_CLI),
    [L_MAIN] = B(L_BASE) | B(L_CLI),
};

typedef struct file {
    char path[PATH_LEN]; /* from the root: "models/order.c" */
    layer_t layer;
    size_t nincludes;
    char includes[MAX_INCLUDES][PATH_LEN]; /* quoted includes, as written */
    int h2o;                               /* includes <h2o.h> or <h2o/...> */
} file_t;

static file_t files[MAX_FILES];
static size_t nfiles;

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static layer_t layer_of(const char *p)
{
    if (strcmp(p, "server/main.c") == 0)
        return L_MAIN;
    if (starts(p, "server/cli/"))
        return L_CLI;
    if (starts(p, "server/http/"))
        return L_HTTP;
    if (starts(p, "handlers/"))
        return L_HANDLERS;
    if (starts(p, "workers/"))
        return L_WORKERS;
    if (starts(p, "models/base/"))
        return L_BASE;
    if (starts(p, "models/store/"))
        return L_STORE;
    if (starts(p, "models/providers/"))
        return L_PROVIDERS;
    if (starts(p, "models/") && strchr(p + strlen("models/"), '/') == NULL)
        return L_MODELS;
    return L_NONE; /* a folder the table does not know: reported by the test */
}

static void read_file(const char *root, const char *rel)
{
    char full[1024], line[512];
    ck_assert_msg(nfiles < MAX_FILES, "more than %d source files: raise MAX_FILES", MAX_FILES);
    file_t *f = &files[nfiles++];
    memset(f, 0, sizeof(*f));
    ck_assert_msg(strlen(rel) < sizeof(f->path), "%s: path too long for this test", rel);
    memcpy(f->path, rel, strlen(rel) + 1);
    f->layer = layer_of(rel);
    snprintf(full, sizeof(full), "%s/%s", root, rel);
    FILE *in = fopen(full, "r");
    ck_assert_msg(in != NULL, "cannot read %s", full);
    while (fgets(line, sizeof(line), in) != NULL) {
        const char *s = line + strspn(line, " \t");
        if (!starts(s, "#"))
            continue;
        s += 1 + strspn(s + 1, " \t");
        if (!starts(s, "include"))
            continue;
        s += strlen("include");
        s += strspn(s, " \t");
        if (starts(s, "<h2o"))
            f->h2o = 1;
        if (*s != '"')
            continue;
        const char *end = strchr(s + 1, '"');
        ck_assert_msg(end != NULL, "%s: unterminated include", rel);
        ck_assert_msg(f->nincludes < MAX_INCLUDES, "%s: more than %d includes", rel, MAX_INCLUDES);
        snprintf(f->includes[f->nincludes++], PATH_LEN, "%.*s", (int)(end - s - 1), s + 1);
    }
    fclose(in);
}

/* Every .c and .h below root/dir, recursively. */
static void walk(const char *root, const char *dir)
{
    char full[1024], rel[PATH_LEN * 2];
    snprintf(full, sizeof(full), "%s/%s", root, dir);
    DIR *d = opendir(full);
    ck_assert_msg(d != NULL, "cannot open %s", full);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int n = snprintf(rel, sizeof(rel), "%s/%s", dir, e->d_name);
        ck_assert_msg(n > 0 && n < PATH_LEN, "%s/%s: path too long for this test", dir, e->d_name);
        struct stat st;
        snprintf(full, sizeof(full), "%s/%s", root, rel);
        ck_assert(stat(full, &st) == 0);
        size_t len = strlen(e->d_name);
        if (S_ISDIR(st.st_mode))
            walk(root, rel);
        else if (len > 2 && (strcmp(e->d_name + len - 2, ".c") == 0 || strcmp(e->d_name + len - 2, ".h") == 0))
            read_file(root, rel);
    }
    closedir(d);
}

static void load(void)
{
    if (nfiles > 0)
        return;
    static const char *const tops[] = {"server", "handlers", "models", "workers"};
    for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++)
        walk(SF_SOURCE_DIR, tops[i]);
}

static const file_t *find(const char *path)
{
    for (size_t i = 0; i < nfiles; i++)
        if (strcmp(files[i].path, path) == 0)
            return &files[i];
    return NULL;
}

START_TEST(test_the_tree_is_read_whole)
{
    load();
    ck_assert_uint_gt(nfiles, 100);
    ck_assert_ptr_nonnull(find("models/base/status.h"));
    ck_assert_ptr_nonnull(find("server/http/errors.c"));
    for (size_t i = 0; i < nfiles; i++)
        ck_assert_msg(files[i].layer != L_NONE, "%s is in a folder that has no layer: add it to the table",
                      files[i].path);
}
END_TEST

START_TEST(test_every_include_names_its_folder)
{
    load();
    for (size_t i = 0; i < nfiles; i++)
        for (size_t j = 0; j < files[i].nincludes; j++)
            ck_assert_msg(find(files[i].includes[j]) != NULL,
                          "%s includes \"%s\": name the file by its path from the root (\"models/order.h\")",
                          files[i].path, files[i].includes[j]);
}
END_TEST

START_TEST(test_no_include_crosses_a_forbidden_edge)
{
    load();
    int bad = 0;
    for (size_t i = 0; i < nfiles; i++) {
        const file_t *f = &files[i];
        for (size_t j = 0; j < f->nincludes; j++) {
            const file_t *to = find(f->includes[j]);
            if (to == NULL)
                continue; /* reported by the test above */
            int ok = (allowed[f->layer] & B(to->layer)) != 0;
            /* a handler never includes another handler: only the shared registration header */
            if (ok && f->layer == L_HANDLERS && to->layer == L_HANDLERS && strcmp(to->path, "handlers/handlers.h") != 0)
                ok = 0;
            if (!ok) {
                fprintf(stderr, "forbidden: %s (%s) includes %s (%s)\n", f->path, layer_names[f->layer], to->path,
                        layer_names[to->layer]);
                bad++;
            }
        }
    }
    ck_assert_msg(bad == 0, "%d include(s) cross a forbidden edge (listed above)", bad);
}
END_TEST

START_TEST(test_nothing_below_the_http_plumbing_includes_h2o)
{
    load();
    for (size_t i = 0; i < nfiles; i++) {
        layer_t l = files[i].layer;
        ck_assert_msg(!files[i].h2o || l == L_HTTP || l == L_CLI || l == L_MAIN, "%s (%s) includes h2o", files[i].path,
                      layer_names[l]);
    }
}
END_TEST

/* ---------------------------------------------------------------- cycles between modules */

/* The module of a file: its path without ".c" or ".h". */
static void module_of(const char *path, char *out, size_t len)
{
    size_t n = strlen(path);
    snprintf(out, len, "%.*s", (int)(n - 2), path);
}

static size_t nmodules;
static char modules[MAX_FILES][PATH_LEN];
static unsigned char edge[MAX_FILES][MAX_FILES];

static size_t module_index(const char *path)
{
    char m[PATH_LEN];
    module_of(path, m, sizeof(m));
    for (size_t i = 0; i < nmodules; i++)
        if (strcmp(modules[i], m) == 0)
            return i;
    snprintf(modules[nmodules], PATH_LEN, "%s", m);
    return nmodules++;
}

/* Depth-first search; on a back edge, prints the cycle from the stack and returns 1. */
static int dfs(size_t v, int *state, size_t *stack, size_t depth)
{
    state[v] = 1;
    stack[depth] = v;
    for (size_t w = 0; w < nmodules; w++) {
        if (!edge[v][w] || w == v)
            continue;
        if (state[w] == 1) {
            fprintf(stderr, "include cycle:");
            size_t k = 0;
            while (stack[k] != w)
                k++;
            for (; k <= depth; k++)
                fprintf(stderr, " %s ->", modules[stack[k]]);
            fprintf(stderr, " %s\n", modules[w]);
            return 1;
        }
        if (state[w] == 0 && dfs(w, state, stack, depth + 1))
            return 1;
    }
    state[v] = 2;
    return 0;
}

START_TEST(test_no_two_modules_include_each_other)
{
    load();
    static int state[MAX_FILES];
    static size_t stack[MAX_FILES];
    for (size_t i = 0; i < nfiles; i++)
        module_index(files[i].path);
    for (size_t i = 0; i < nfiles; i++) {
        size_t from = module_index(files[i].path);
        for (size_t j = 0; j < files[i].nincludes; j++)
            if (find(files[i].includes[j]) != NULL)
                edge[from][module_index(files[i].includes[j])] = 1;
    }
    int cycles = 0;
    memset(state, 0, sizeof(state));
    for (size_t v = 0; v < nmodules && cycles == 0; v++) /* the first cycle found is reported */
        if (state[v] == 0)
            cycles += dfs(v, state, stack, 0);
    ck_assert_msg(cycles == 0, "the includes of the tree have a cycle (printed above)");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("includes");
    tcase_add_test(tc, test_the_tree_is_read_whole);
    tcase_add_test(tc, test_every_include_names_its_folder);
    tcase_add_test(tc, test_no_include_crosses_a_forbidden_edge);
    tcase_add_test(tc, test_nothing_below_the_http_plumbing_includes_h2o);
    tcase_add_test(tc, test_no_two_modules_include_each_other);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
