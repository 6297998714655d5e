/* Unit tests of common/filestore: URL grammar, names, XML and listing parsers,
 * option checks, the file:// backend, and failures against closed ports. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "filestore_int.h"
#include "replay/atomicfile.h"
#include "replay/filestore.h"
#include "replay/redact.h"

/* ---- helpers ------------------------------------------------------------------ */

static char tmpdir[256];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_filestore.XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static struct replay__fs_url parse_ok(const char *url)
{
    struct replay__fs_url u;
    struct replay_err err = {0};
    int rc = replay__fs_url_parse(url, &u, &err);
    if (rc != 0)
        fail_msg("parse of %s failed: %s", url, err.msg);
    return u;
}

static int parse_code(const char *url, struct replay_err *err)
{
    struct replay__fs_url u;
    int rc = replay__fs_url_parse(url, &u, err);
    if (rc == 0)
        replay__fs_url_clear(&u);
    return rc;
}

/* A loopback TCP port that nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* ---- URL grammar (formats.md §5.1) ---------------------------------------------- */

static void test_filestore_url_userinfo_splits_at_last_at_and_first_colon(void **state)
{
    (void)state;
    struct replay__fs_url u =
        parse_ok("s3://al_storage_key:Ch@ngeTh!sPa33w0rd@localhost:9000?s3_bucket=al-storage");
    assert_string_equal(u.scheme, "s3");
    assert_string_equal(u.user, "al_storage_key");
    assert_string_equal(u.password, "Ch@ngeTh!sPa33w0rd");
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 9000);
    assert_string_equal(u.base, "/");
    assert_string_equal(replay__fs_url_opt(&u, "s3_bucket"), "al-storage");
    replay__fs_url_clear(&u);
    u = parse_ok("sftp://u:a:b:c@h/x");
    assert_string_equal(u.password, "a:b:c");
    replay__fs_url_clear(&u);
}

static void test_filestore_url_decodes_password_but_not_user(void **state)
{
    (void)state;
    struct replay__fs_url u = parse_ok("ftp://us%40er:p%40ss%2Fw%zz%4@Host.Example:21/dir");
    assert_string_equal(u.user, "us%40er");
    assert_string_equal(u.password, "p@ss/w%zz%4");
    assert_string_equal(u.host, "host.example");
    replay__fs_url_clear(&u);
}

static void test_filestore_url_without_userinfo_has_empty_user_and_password(void **state)
{
    (void)state;
    struct replay__fs_url u = parse_ok("FTP://host/base");
    assert_string_equal(u.scheme, "ftp");
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "");
    assert_int_equal(u.port, 0);
    assert_string_equal(u.base, "/base");
    replay__fs_url_clear(&u);
    u = parse_ok("ftp://user@host:/");
    assert_string_equal(u.user, "user");
    assert_string_equal(u.password, "");
    assert_int_equal(u.port, 0);
    replay__fs_url_clear(&u);
}

static void test_filestore_url_ipv6_host_loses_brackets(void **state)
{
    (void)state;
    struct replay__fs_url u = parse_ok("sftp://u:p@[::1]:2222/x");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 2222);
    replay__fs_url_clear(&u);
    struct replay_err err = {0};
    assert_int_equal(parse_code("sftp://[::1/x", &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "IPv6"));
}

static void test_filestore_url_bad_port_is_an_error(void **state)
{
    (void)state;
    struct replay_err err = {0};
    assert_int_equal(parse_code("ftp://u:secretpw@h:99999/", &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "out of range"));
    assert_null(strstr(err.msg, "secretpw"));
    replay_err_clear(&err);
    assert_int_equal(parse_code("ftp://h:2x/", &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "not a number"));
    replay_err_clear(&err);
    assert_int_equal(parse_code("ftp://h:+21/", &err), REPLAY_ECONFIG);
}

static void test_filestore_url_dot_host_makes_a_relative_base(void **state)
{
    (void)state;
    struct replay__fs_url u = parse_ok("file://./x/y");
    assert_string_equal(u.base, "./x/y");
    replay__fs_url_clear(&u);
    u = parse_ok("file:///tmp/replay/output");
    assert_string_equal(u.base, "/tmp/replay/output");
    assert_string_equal(u.host, "");
    replay__fs_url_clear(&u);
}

static void test_filestore_url_query_follows_parse_qs(void **state)
{
    (void)state;
    struct replay__fs_url u =
        parse_ok("azure://h/c?access_key=a+b%2Bc&empty=&novalue&x=1&x=2&%72ead_only=TRUE#frag");
    assert_string_equal(replay__fs_url_opt(&u, "access_key"), "a b+c");
    assert_null(replay__fs_url_opt(&u, "empty"));
    assert_null(replay__fs_url_opt(&u, "novalue"));
    assert_string_equal(replay__fs_url_opt(&u, "x"), "1");
    assert_true(replay__fs_url_bool(&u, "read_only", false));
    assert_int_equal(u.n_query, 4);
    replay__fs_url_clear(&u);
}

static void test_filestore_url_boolean_is_true_only_for_true(void **state)
{
    (void)state;
    struct replay__fs_url u = parse_ok("s3://h?a=true&b=True&c=1&d=yes&e=true%20&f=false");
    assert_true(replay__fs_url_bool(&u, "a", false));
    assert_true(replay__fs_url_bool(&u, "b", false));
    assert_false(replay__fs_url_bool(&u, "c", true));
    assert_false(replay__fs_url_bool(&u, "d", true));
    assert_false(replay__fs_url_bool(&u, "e", true));
    assert_false(replay__fs_url_bool(&u, "f", true));
    assert_true(replay__fs_url_bool(&u, "unset", true));
    replay__fs_url_clear(&u);
}

static void test_filestore_url_params_cut_only_for_schemes_that_have_them(void **state)
{
    (void)state;
    struct replay__fs_url u = parse_ok("ftp://h/a;b/c;type=i");
    assert_string_equal(u.base, "/a;b/c");
    replay__fs_url_clear(&u);
    u = parse_ok("file:///a/c;x");
    assert_string_equal(u.base, "/a/c;x");
    replay__fs_url_clear(&u);
}

static void test_filestore_url_strips_leading_space_and_drops_newlines(void **state)
{
    (void)state;
    struct replay__fs_url u = parse_ok("  \tsftp://h/a\nb\r/c");
    assert_string_equal(u.scheme, "sftp");
    assert_string_equal(u.base, "/ab/c");
    replay__fs_url_clear(&u);
}

static void test_filestore_url_unknown_scheme_names_it(void **state)
{
    (void)state;
    struct replay_err err = {0};
    assert_int_equal(parse_code("gopher://h/", &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "Unknown transport: gopher"));
    replay_err_clear(&err);
    assert_int_equal(parse_code("/just/a/path", &err), REPLAY_ECONFIG);
    replay_err_clear(&err);
    assert_int_equal(parse_code(NULL, &err), REPLAY_EINVAL);
}

static void test_filestore_url_limits_length_and_options(void **state)
{
    (void)state;
    struct replay_err err = {0};
    char *url = malloc(REPLAY__FS_MAX_URL + 64);
    assert_non_null(url);
    strcpy(url, "file:///");
    memset(url + 8, 'a', REPLAY__FS_MAX_URL);
    url[REPLAY__FS_MAX_URL + 8] = '\0';
    assert_int_equal(parse_code(url, &err), REPLAY_ETOOBIG);
    replay_err_clear(&err);
    size_t o = (size_t)sprintf(url, "file:///x?");
    for (int i = 0; i <= REPLAY__FS_MAX_QUERY; i++)
        o += (size_t)sprintf(url + o, "k%d=v&", i);
    assert_int_equal(parse_code(url, &err), REPLAY_ETOOBIG);
    free(url);
}

/* ---- names ------------------------------------------------------------------------ */

static void test_filestore_names_accept_relative_names(void **state)
{
    (void)state;
    const char *good[] = {"alert_x.al_bundle", "with space.bin", "unicodé ✓.bin", ".hidden",
                          "a/b/c", "a..b", "...x"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(replay__fs_check_name(good[i], NULL), 0);
}

static void test_filestore_names_refuse_unsafe_names(void **state)
{
    (void)state;
    const char *bad[] = {"", "/etc/passwd", "..", "a/../b", "./a", "a//b", "a/", "a\\b",
                         "a\nb", "tab\there", "del\x7f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct replay_err err = {0};
        assert_int_equal(replay__fs_check_name(bad[i], &err), REPLAY_EUNSAFE);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_equal(replay__fs_check_name(NULL, NULL), REPLAY_EUNSAFE);
    char long_name[REPLAY__FS_MAX_NAME + 2];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(replay__fs_check_name(long_name, NULL), REPLAY_EUNSAFE);
    char long_component[REPLAY__FS_MAX_COMPONENT + 2];
    memset(long_component, 'b', sizeof(long_component) - 1);
    long_component[sizeof(long_component) - 1] = '\0';
    assert_int_equal(replay__fs_check_name(long_component, NULL), REPLAY_EUNSAFE);
}

static void test_filestore_join_shards_64_character_names(void **state)
{
    (void)state;
    char out[512];
    const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_int_equal(replay__fs_join("/base", sha, out, sizeof(out), NULL), 0);
    assert_string_equal(out, "/base/0/1/2/3/0123456789abcdef0123456789abcdef0123456789abcdef"
                             "0123456789abcdef");
    assert_int_equal(replay__fs_join("/base/", "x/y", out, sizeof(out), NULL), 0);
    assert_string_equal(out, "/base/x/y");
    assert_int_equal(replay__fs_join("/", "n", out, sizeof(out), NULL), 0);
    assert_string_equal(out, "/n");
    char small[8];
    assert_int_equal(replay__fs_join("/base", "long-name", small, sizeof(small), NULL),
                     REPLAY_ETOOBIG);
}

static void test_filestore_temporary_paths_sit_beside_the_final_name(void **state)
{
    (void)state;
    char a[REPLAY__FS_MAX_PATH], b[REPLAY__FS_MAX_PATH];
    assert_int_equal(replay__fs_tmp_path("/in/c0/alert_1.al_bundle", a, sizeof(a), NULL), 0);
    assert_int_equal(replay__fs_tmp_path("/in/c0/alert_1.al_bundle", b, sizeof(b), NULL), 0);
    assert_int_equal(strncmp(a, "/in/c0/.alert_1.al_bundle.replay-tmp-", 37), 0);
    assert_true(replay_atomicfile_is_tmp_name(replay__fs_basename(a)));
    assert_string_not_equal(a, b);
    assert_int_equal(replay__fs_tmp_path("name", a, sizeof(a), NULL), 0);
    assert_int_equal(strncmp(a, ".name.replay-tmp-", 17), 0);
    char small[20];
    assert_int_equal(replay__fs_tmp_path("/in/alert_1.al_bundle", small, sizeof(small), NULL),
                     REPLAY_ETOOBIG);
    assert_string_equal(replay__fs_basename("a/b/c.bin"), "c.bin");
    assert_string_equal(replay__fs_basename("c.bin"), "c.bin");
}

static void test_filestore_url_encode_keeps_unreserved_only(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(replay__fs_url_encode("a b/é~_-.", true, out, sizeof(out), NULL), 0);
    assert_string_equal(out, "a%20b/%C3%A9~_-.");
    assert_int_equal(replay__fs_url_encode("a/b+=", false, out, sizeof(out), NULL), 0);
    assert_string_equal(out, "a%2Fb%2B%3D");
    char tiny[4];
    assert_int_equal(replay__fs_url_encode("é", false, tiny, sizeof(tiny), NULL), REPLAY_ETOOBIG);
}

/* ---- XML and listing lines (answers from servers) --------------------------------- */

static void test_filestore_xml_text_decodes_entities(void **state)
{
    (void)state;
    const char *xml = "<R><Code>NoSuchKey</Code><Key Encoded=\"x\">a&amp;b&lt;&#233;&#x2713;"
                      "&quot;&apos;&gt;</Key><E/></R>";
    char out[64];
    assert_non_null(replay__xml_text(xml, strlen(xml), "Code", out, sizeof(out)));
    assert_string_equal(out, "NoSuchKey");
    assert_non_null(replay__xml_text(xml, strlen(xml), "Key", out, sizeof(out)));
    assert_string_equal(out, "a&b<é✓\"'>");
    assert_non_null(replay__xml_text(xml, strlen(xml), "E", out, sizeof(out)));
    assert_string_equal(out, "");
    assert_null(replay__xml_text(xml, strlen(xml), "Missing", out, sizeof(out)));
    assert_null(replay__xml_text(xml, strlen(xml), "R", out, sizeof(out))); /* nested */
}

static void test_filestore_xml_rejects_malformed_text(void **state)
{
    (void)state;
    char out[8];
    const char *cases[] = {"<K>a&bogus;</K>", "<K>&#0;</K>", "<K>&#xD800;</K>", "<K>&#;</K>",
                           "<K>unterminated", "<K>&amp</K>", "<K>123456789</K>"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(out, 'x', sizeof(out));
        assert_null(replay__xml_text(cases[i], strlen(cases[i]), "K", out, sizeof(out)));
        assert_string_equal(out, ""); /* never half a text (found by fuzz_filestore_xml) */
    }
}

static int collect(const char *text, void *ctx)
{
    char *acc = ctx;
    strcat(acc, text);
    strcat(acc, "|");
    return strcmp(text, "stop") == 0 ? -99 : 0;
}

static void test_filestore_xml_each_walks_outer_elements(void **state)
{
    (void)state;
    const char *xml = "<Blobs><Blob><Name>a</Name></Blob><BlobPrefix><Name>dir/</Name>"
                      "</BlobPrefix><Blob><Name>b&amp;c</Name></Blob><Blob><Name>&x;</Name>"
                      "</Blob><Blob><Name>stop</Name></Blob><Blob><Name>after</Name></Blob>"
                      "</Blobs>";
    char acc[128] = "";
    assert_int_equal(replay__xml_each(xml, strlen(xml), "Blob", "Name", 64, collect, acc), -99);
    assert_string_equal(acc, "a|b&c|stop|");
}

static void test_filestore_list_lines_keep_regular_files_only(void **state)
{
    (void)state;
    const char *name;
    char l1[] = "-rw-r--r--    1 1001     1001            5 Nov 28 01:30 a b é.txt\r\n";
    assert_int_equal(replay__fs_parse_list_line(l1, &name), 1);
    assert_string_equal(name, "a b é.txt");
    char l2[] = "-rw-r--r-- 1 owner 123456 Jan  1  2024 no group.bin";
    assert_int_equal(replay__fs_parse_list_line(l2, &name), 1);
    assert_string_equal(name, "no group.bin");
    char l3[] = "drwxr-xr-x 2 u g 4096 Nov 28 01:30 subdir";
    assert_int_equal(replay__fs_parse_list_line(l3, &name), 0);
    char l4[] = "lrwxrwxrwx 1 u g 4 Nov 28 01:30 link -> target";
    assert_int_equal(replay__fs_parse_list_line(l4, &name), 0);
    char l5[] = "11-28-26  01:30AM                 1234 dos file.bin";
    assert_int_equal(replay__fs_parse_list_line(l5, &name), 1);
    assert_string_equal(name, "dos file.bin");
    char l6[] = "11-28-26  01:30AM       <DIR>          dosdir";
    assert_int_equal(replay__fs_parse_list_line(l6, &name), 0);
    char junk[][48] = {"total 12", "", "-", "-rw-r--r-- 1 u g 5 Nov xx 01:30 n",
                       "-rw-r--r-- 1 u g 5 Nov 28 01:30", "garbage line here"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        assert_int_equal(replay__fs_parse_list_line(junk[i], &name), 0);
}

static int join_names(const char *name, void *ctx)
{
    char *acc = ctx;
    strcat(acc, name);
    strcat(acc, "|");
    return strcmp(name, "stop") == 0 ? REPLAY_EBUSY : 0;
}

/* Feeds a listing to a fresh splitter in chunks of `chunk` bytes. */
static int feed(const char *listing, size_t len, size_t chunk, char *acc)
{
    struct replay__fs_lister *l = malloc(sizeof(*l));
    assert_non_null(l);
    replay__fs_lister_init(l, join_names, acc);
    acc[0] = '\0';
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < len; off += chunk)
        rc = replay__fs_lister_feed(l, listing + off, len - off < chunk ? len - off : chunk);
    if (rc == 0)
        rc = replay__fs_lister_end(l);
    free(l);
    return rc;
}

static void test_filestore_listing_splitter_ignores_chunking_and_skips_bad_lines(void **state)
{
    (void)state;
    static const char listing[] =
        "-rw-r--r-- 1 u g 5 Nov 28 01:30 one.bin\r\n"
        "-rw-r--r-- 1 u g 5 Nov 28 01:30 with\0nul.bin\r\n" /* a NUL: not a name */
        "drwxr-xr-x 2 u g 4096 Nov 28 01:30 dir\n"
        "-rw-r--r-- 1 u g 5 Nov 28 01:30 last.bin"; /* no newline at the end */
    char whole[512], cut[512];
    assert_int_equal(feed(listing, sizeof(listing) - 1, sizeof(listing), whole), 0);
    assert_string_equal(whole, "one.bin|last.bin|");
    for (size_t chunk = 1; chunk < 40; chunk++) {
        assert_int_equal(feed(listing, sizeof(listing) - 1, chunk, cut), 0);
        assert_string_equal(cut, whole);
    }
    /* a line longer than the buffer is skipped whole, the next one is read */
    size_t n = REPLAY__FS_LIST_LINE_MAX + 200;
    char *big = malloc(n + 64);
    assert_non_null(big);
    memset(big, 'x', n);
    memcpy(big, "-rw-r--r-- 1 u g 5 Nov 28 01:30 ", 32);
    strcpy(big + n, "\n-rw-r--r-- 1 u g 5 Nov 28 01:30 after\n");
    assert_int_equal(feed(big, strlen(big), 100, cut), 0);
    assert_string_equal(cut, "after|");
    free(big);
    /* the callback stops the listing */
    static const char stops[] = "-rw-r--r-- 1 u g 5 Nov 28 01:30 stop\n"
                                "-rw-r--r-- 1 u g 5 Nov 28 01:30 never\n";
    assert_int_equal(feed(stops, sizeof(stops) - 1, 7, cut), REPLAY_EBUSY);
    assert_string_equal(cut, "stop|");
}

/* ---- option checks without I/O (replay_filestore_check_url) ------------------------ */

static void check_expect(const char *url, int code, const char *needle)
{
    struct replay_err err = {0};
    int rc = replay_filestore_check_url(url, &err);
    if (rc != code)
        fail_msg("check %s: expected %d, got %d (%s)", url, code, rc, err.msg);
    if (needle != NULL && strstr(err.msg, needle) == NULL)
        fail_msg("check %s: message '%s' lacks '%s'", url, err.msg, needle);
}

static void test_filestore_check_url_accepts_every_scheme(void **state)
{
    (void)state;
    check_expect("file:///tmp/replay/output", 0, NULL);
    check_expect("ftp://u:p@h/dir?use_tls=true", 0, NULL);
    check_expect("ftps://u:p@h:990/dir", 0, NULL);
    check_expect("sftp://u@h/x?private_key=/k&private_key_pass=pp&validate_host=true", 0, NULL);
    check_expect("s3://k:s@minio:9000?s3_bucket=al-storage&use_ssl=False&aws_region=eu-west-1",
                 0, NULL);
    check_expect("azure://acct.blob.core.windows.net/container/base?access_key=c2VjcmV0a2V5",
                 0, NULL);
    check_expect("azure://127.0.0.1:10000/devstoreaccount1/c?use_ssl=false&sas_token=sv%3D1%26sig%3Dx",
                 0, NULL);
    check_expect("https://u:p@h/files?verify=false&pki=/c.pem", 0, NULL);
}

static void test_filestore_check_url_refuses_bad_options(void **state)
{
    (void)state;
    check_expect("file:///x?normalize=true", REPLAY_ECONFIG, "normalize");
    check_expect("ftp:///nohost", REPLAY_ECONFIG, "no host");
    check_expect("sftp:///nohost", REPLAY_ECONFIG, "no host");
    check_expect("http:///nohost", REPLAY_ECONFIG, "no host");
    check_expect("azure:///c", REPLAY_ECONFIG, "no host");
    check_expect("azure://acct.blob.core.windows.net", REPLAY_ECONFIG, "no container");
    check_expect("azure://127.0.0.1:10000/", REPLAY_ECONFIG, "no account");
    check_expect("azure://a.blob.core.windows.net/c?access_key=not*base64!", REPLAY_ECONFIG,
                 "access_key");
    check_expect("azure://a.blob.core.windows.net/c?tenant_id=t&client_id=c&client_secret=s",
                 REPLAY_EUNSUPPORTED, "not supported");
    check_expect("azure://a.blob.core.windows.net/c?use_default_credentials=true",
                 REPLAY_EUNSUPPORTED, "not supported");
    check_expect("s3://onlykey@h", REPLAY_ECONFIG, "both");
    check_expect("s3://k:s@h?s3_bucket=a/b", REPLAY_ECONFIG, "s3_bucket");
}

static void test_filestore_check_url_messages_hide_secrets(void **state)
{
    (void)state;
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_check_url("azure:///c?access_key=topsecretkey", &err),
                     REPLAY_ECONFIG);
    assert_null(strstr(err.msg, "topsecretkey"));
    assert_non_null(strstr(err.msg, "***"));
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_check_url("s3://key:Sup3rS3cret@h?s3_bucket=a/b", &err),
                     REPLAY_ECONFIG);
    assert_null(strstr(err.msg, "Sup3rS3cret"));
}

/* ---- the file:// backend through the public API -------------------------------------- */

static struct replay_filestore *open_file_store(const char *sub, const char *extra)
{
    char url[600];
    snprintf(url, sizeof(url), "file://%s/%s%s", tmpdir, sub, extra != NULL ? extra : "");
    struct replay_filestore *fs = NULL;
    struct replay_err err = {0};
    if (replay_filestore_open(url, NULL, &fs, &err) != 0)
        fail_msg("open %s: %s", url, err.msg);
    return fs;
}

static int count_names(const char *name, void *ctx)
{
    (void)name;
    (*(int *)ctx)++;
    return 0;
}

static void test_filestore_file_round_trip_and_no_overwrite(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_file_store("store", NULL);
    char src[512], other[512], back[512], buf[64];
    snprintf(src, sizeof(src), "%s/src", tmpdir);
    snprintf(other, sizeof(other), "%s/other", tmpdir);
    snprintf(back, sizeof(back), "%s/out/deep/back", tmpdir);
    write_file(src, "first", 5);
    write_file(other, "second!", 7);
    enum replay_filestore_outcome o;
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_upload(fs, src, "sub/a b.bin", &o, &err), 0);
    assert_int_equal(o, REPLAY_FILESTORE_UPLOADED);
    assert_int_equal(replay_filestore_upload(fs, other, "sub/a b.bin", &o, &err), 0);
    assert_int_equal(o, REPLAY_FILESTORE_SKIPPED_EXISTS);
    assert_int_equal(replay_filestore_download(fs, "sub/a b.bin", back, &err), 0);
    assert_int_equal(read_file(back, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "first", 5);
    bool there = false;
    assert_int_equal(replay_filestore_exists(fs, "sub/a b.bin", &there, &err), 0);
    assert_true(there);
    assert_int_equal(replay_filestore_delete(fs, "sub/a b.bin", &err), 0);
    assert_int_equal(replay_filestore_delete(fs, "sub/a b.bin", &err), 0);
    assert_int_equal(replay_filestore_exists(fs, "sub/a b.bin", &there, &err), 0);
    assert_false(there);
    assert_string_equal(replay_filestore_scheme(fs), "file");
    assert_false(replay_filestore_read_only(fs));
    replay_filestore_close(fs);
}

static void test_filestore_file_objects_are_0640_in_0750_directories(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_file_store("modes", NULL);
    char src[512], path[600], back[600];
    struct stat st;
    struct replay_err err = {0};
    mode_t old = umask(022);
    snprintf(src, sizeof(src), "%s/src-modes", tmpdir);
    write_file(src, "data", 4);
    assert_int_equal(replay_filestore_upload(fs, src, "sub/obj", NULL, &err), 0);
    snprintf(path, sizeof(path), "%s/modes/sub/obj", tmpdir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    snprintf(path, sizeof(path), "%s/modes/sub", tmpdir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    snprintf(back, sizeof(back), "%s/modes-back/deep/obj", tmpdir);
    assert_int_equal(replay_filestore_download(fs, "sub/obj", back, &err), 0);
    assert_int_equal(stat(back, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    umask(old);
    replay_filestore_close(fs);
}

static void test_filestore_file_list_hides_temporaries_and_directories(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_file_store("listed", NULL);
    char src[512], path[600];
    snprintf(src, sizeof(src), "%s/src", tmpdir);
    write_file(src, "x", 1);
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_upload(fs, src, "one", NULL, &err), 0);
    assert_int_equal(replay_filestore_upload(fs, src, "two", NULL, &err), 0);
    assert_int_equal(replay_filestore_upload(fs, src, "dir/three", NULL, &err), 0);
    snprintf(path, sizeof(path), "%s/listed/.one.replay-tmp-abcdef012345", tmpdir);
    write_file(path, "partial", 7);
    snprintf(path, sizeof(path), "%s/listed/bad\nname", tmpdir);
    write_file(path, "x", 1);
    int n = 0;
    assert_int_equal(replay_filestore_list(fs, count_names, &n, &err), 0);
    assert_int_equal(n, 2);
    replay_filestore_close(fs);
}

static int stop_listing(const char *name, void *ctx)
{
    (void)name;
    (void)ctx;
    return REPLAY_EBUSY;
}

static void test_filestore_file_list_stops_when_the_callback_says_so(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_file_store("listed", NULL);
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_list(fs, stop_listing, NULL, &err), REPLAY_EBUSY);
    replay_filestore_close(fs);
    fs = open_file_store("never-created", NULL);
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_list(fs, count_names, &(int){0}, &err), REPLAY_ENOTFOUND);
    assert_int_equal(replay_filestore_list(fs, NULL, NULL, NULL), REPLAY_EINVAL);
    replay_filestore_close(fs);
}

static void test_filestore_file_errors_name_the_cause(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_file_store("errs", NULL);
    struct replay_err err = {0};
    char missing[512], back[512];
    snprintf(missing, sizeof(missing), "%s/does-not-exist", tmpdir);
    snprintf(back, sizeof(back), "%s/back-missing", tmpdir);
    assert_int_equal(replay_filestore_upload(fs, missing, "x", NULL, &err), REPLAY_ENOTFOUND);
    assert_non_null(strstr(err.msg, "does-not-exist"));
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_upload(fs, tmpdir, "x", NULL, &err), REPLAY_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_download(fs, "nothing", back, &err), REPLAY_ENOTFOUND);
    assert_int_equal(access(back, F_OK), -1);
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_upload(fs, missing, "../escape", NULL, &err), REPLAY_EUNSAFE);
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_download(fs, "x", NULL, &err), REPLAY_EINVAL);
    replay_filestore_close(fs);
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_open("file:///dev/null/x", NULL, &fs, &err), 0);
    char src[512];
    snprintf(src, sizeof(src), "%s/src", tmpdir);
    write_file(src, "x", 1);
    assert_int_equal(replay_filestore_upload(fs, src, "y", NULL, &err), REPLAY_EIO);
    assert_non_null(strstr(err.msg, "mkdir"));
    replay_filestore_close(fs);
}

/* fstat() for the test below: linked with -Wl,--wrap=fstat. When failing, it
 * leaves the buffer as a failed call may (here: zeros, "not a regular file"). */
int __real_fstat(int fd, struct stat *st);
int __wrap_fstat(int fd, struct stat *st);
static int fstat_fails_with; /* errno to fail with, 0 = pass through */

int __wrap_fstat(int fd, struct stat *st)
{
    if (fstat_fails_with == 0)
        return __real_fstat(fd, st);
    memset(st, 0, sizeof(*st));
    errno = fstat_fails_with;
    return -1;
}

static void test_filestore_upload_reports_a_failed_stat_of_the_local_file(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_file_store("fstat", NULL);
    char src[512];
    snprintf(src, sizeof(src), "%s/src", tmpdir);
    write_file(src, "payload", 7);
    struct replay_err err = {0};
    fstat_fails_with = EOVERFLOW;
    int rc = replay_filestore_upload(fs, src, "n", NULL, &err);
    fstat_fails_with = 0;
    assert_int_equal(rc, REPLAY_EIO);
    assert_int_equal(err.sys_errno, EOVERFLOW);
    assert_non_null(strstr(err.msg, "upload: stat"));
    assert_null(strstr(err.msg, "not a regular file"));
    replay_filestore_close(fs);
}

static void test_filestore_file_read_only_skips_writes(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_file_store("ro", "?read_only=true");
    assert_true(replay_filestore_read_only(fs));
    char src[512];
    snprintf(src, sizeof(src), "%s/src", tmpdir);
    write_file(src, "x", 1);
    enum replay_filestore_outcome o;
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_upload(fs, src, "n", &o, &err), 0);
    assert_int_equal(o, REPLAY_FILESTORE_SKIPPED_READ_ONLY);
    bool there = true;
    assert_int_equal(replay_filestore_exists(fs, "n", &there, &err), 0);
    assert_false(there);
    assert_int_equal(replay_filestore_delete(fs, "n", &err), 0);
    replay_filestore_close(fs);
}

static void test_filestore_canceled_upload_leaves_nothing(void **state)
{
    (void)state;
    char url[600], src[512];
    snprintf(url, sizeof(url), "file://%s/canceled", tmpdir);
    snprintf(src, sizeof(src), "%s/canceled", tmpdir);
    assert_int_equal(mkdir(src, 0755), 0);
    snprintf(src, sizeof(src), "%s/src", tmpdir);
    write_file(src, "payload", 7);
    struct replay_cancel *c = replay_cancel_new();
    struct replay_filestore_opts opts = {.cancel = c};
    struct replay_filestore *fs = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_open(url, &opts, &fs, &err), 0);
    replay_cancel_request(c);
    assert_int_equal(replay_filestore_upload(fs, src, "n", NULL, &err), REPLAY_ECANCELED);
    replay_cancel_free(c);
    opts.cancel = NULL;
    replay_filestore_close(fs);
    fs = open_file_store("canceled", NULL);
    int n = 0;
    assert_int_equal(replay_filestore_list(fs, count_names, &n, &err), 0);
    assert_int_equal(n, 0);
    replay_filestore_close(fs);
}

static void test_filestore_canceled_download_leaves_no_file_and_no_temporary(void **state)
{
    (void)state;
    char url[600], local_dir[512], local[600], src[512];
    struct replay_filestore *fs = open_file_store("dlcancel", NULL);
    snprintf(src, sizeof(src), "%s/src", tmpdir);
    write_file(src, "payload", 7);
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_upload(fs, src, "obj", NULL, &err), 0);
    replay_filestore_close(fs);
    struct replay_cancel *c = replay_cancel_new();
    struct replay_filestore_opts opts = {.cancel = c};
    snprintf(url, sizeof(url), "file://%s/dlcancel", tmpdir);
    assert_int_equal(replay_filestore_open(url, &opts, &fs, &err), 0);
    snprintf(local_dir, sizeof(local_dir), "%s/dlcancel-local", tmpdir);
    snprintf(local, sizeof(local), "%s/obj", local_dir);
    replay_cancel_request(c);
    assert_int_equal(replay_filestore_download(fs, "obj", local, &err), REPLAY_ECANCELED);
    replay_filestore_close(fs);
    replay_cancel_free(c);
    assert_int_equal(access(local, F_OK), -1);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", local_dir);
    assert_int_equal(system(cmd), 0); /* not even a hidden temporary */
}

static void test_filestore_open_and_close_handle_null(void **state)
{
    (void)state;
    replay_filestore_close(NULL);
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_open("file:///x", NULL, NULL, &err), REPLAY_EINVAL);
    struct replay_filestore *fs = (void *)1;
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_open(NULL, NULL, &fs, &err), REPLAY_EINVAL);
    assert_null(fs);
    assert_string_equal(replay_filestore_url(NULL), "");
    assert_int_equal(replay_filestore_upload(NULL, "a", "b", NULL, NULL), REPLAY_EINVAL);
}

/* ---- network schemes against a closed port ------------------------------------------- */

static void test_filestore_closed_port_fails_fast_with_econn(void **state)
{
    (void)state;
    int port = closed_port();
    /* "<scheme>://<userinfo>@127.0.0.1:" PORT "<rest>" */
    const char *parts[][2] = {
        {"ftp://user:Pa55wordX@127.0.0.1:", "/x"},
        {"sftp://user:Pa55wordX@127.0.0.1:", "/"},
        {"s3://key:Pa55wordX@127.0.0.1:", "/?use_ssl=false"},
        {"azure://127.0.0.1:", "/acct/cont?use_ssl=false&access_key=UGE1NXdvcmRY"},
        {"http://user:Pa55wordX@127.0.0.1:", "/x"},
    };
    struct replay_filestore_opts opts = {.max_attempts = 1, .connect_timeout_ms = 2000};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char url[256];
        snprintf(url, sizeof(url), "%s%d%s", parts[i][0], port, parts[i][1]);
        struct replay_filestore *fs = NULL;
        struct replay_err err = {0};
        bool there;
        int rc = replay_filestore_open(url, &opts, &fs, &err);
        if (rc == 0)
            rc = replay_filestore_exists(fs, "name", &there, &err);
        replay_filestore_close(fs);
        if (rc != REPLAY_ECONN)
            fail_msg("%s: expected REPLAY_ECONN, got %d: %s", url, rc, err.msg);
        assert_null(strstr(err.msg, "Pa55wordX"));
        assert_null(strstr(err.msg, "UGE1NXdvcmRY"));
    }
}

static void test_filestore_http_is_read_only(void **state)
{
    (void)state;
    struct replay_filestore *fs = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_open("http://127.0.0.1:9/files", NULL, &fs, &err), 0);
    char src[512];
    snprintf(src, sizeof(src), "%s/src", tmpdir);
    write_file(src, "x", 1);
    /* exists comes first (connection refused here), as upstream's FileStore does */
    assert_int_equal(replay_filestore_delete(fs, "n", &err), REPLAY_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "READ ONLY TRANSPORT"));
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_list(fs, count_names, &(int){0}, &err), REPLAY_EUNSUPPORTED);
    replay_filestore_close(fs);
}

static void test_filestore_open_registers_url_secrets(void **state)
{
    (void)state;
    struct replay_filestore *fs = NULL;
    struct replay_err err = {0};
    char url[600], out[700];
    snprintf(url, sizeof(url), "file://%s/reg?access_key=RegisteredK3y", tmpdir);
    assert_int_equal(replay_filestore_open(url, NULL, &fs, &err), 0);
    replay_redact("key RegisteredK3y here", out, sizeof(out));
    assert_string_equal(out, "key *** here");
    assert_null(strstr(replay_filestore_url(fs), "RegisteredK3y"));
    replay_filestore_close(fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filestore_url_userinfo_splits_at_last_at_and_first_colon),
        cmocka_unit_test(test_filestore_url_decodes_password_but_not_user),
        cmocka_unit_test(test_filestore_url_without_userinfo_has_empty_user_and_password),
        cmocka_unit_test(test_filestore_url_ipv6_host_loses_brackets),
        cmocka_unit_test(test_filestore_url_bad_port_is_an_error),
        cmocka_unit_test(test_filestore_url_dot_host_makes_a_relative_base),
        cmocka_unit_test(test_filestore_url_query_follows_parse_qs),
        cmocka_unit_test(test_filestore_url_boolean_is_true_only_for_true),
        cmocka_unit_test(test_filestore_url_params_cut_only_for_schemes_that_have_them),
        cmocka_unit_test(test_filestore_url_strips_leading_space_and_drops_newlines),
        cmocka_unit_test(test_filestore_url_unknown_scheme_names_it),
        cmocka_unit_test(test_filestore_url_limits_length_and_options),
        cmocka_unit_test(test_filestore_names_accept_relative_names),
        cmocka_unit_test(test_filestore_names_refuse_unsafe_names),
        cmocka_unit_test(test_filestore_join_shards_64_character_names),
        cmocka_unit_test(test_filestore_temporary_paths_sit_beside_the_final_name),
        cmocka_unit_test(test_filestore_url_encode_keeps_unreserved_only),
        cmocka_unit_test(test_filestore_xml_text_decodes_entities),
        cmocka_unit_test(test_filestore_xml_rejects_malformed_text),
        cmocka_unit_test(test_filestore_xml_each_walks_outer_elements),
        cmocka_unit_test(test_filestore_list_lines_keep_regular_files_only),
        cmocka_unit_test(test_filestore_listing_splitter_ignores_chunking_and_skips_bad_lines),
        cmocka_unit_test(test_filestore_check_url_accepts_every_scheme),
        cmocka_unit_test(test_filestore_check_url_refuses_bad_options),
        cmocka_unit_test(test_filestore_check_url_messages_hide_secrets),
        cmocka_unit_test(test_filestore_file_round_trip_and_no_overwrite),
        cmocka_unit_test(test_filestore_file_objects_are_0640_in_0750_directories),
        cmocka_unit_test(test_filestore_file_list_hides_temporaries_and_directories),
        cmocka_unit_test(test_filestore_file_list_stops_when_the_callback_says_so),
        cmocka_unit_test(test_filestore_file_errors_name_the_cause),
        cmocka_unit_test(test_filestore_upload_reports_a_failed_stat_of_the_local_file),
        cmocka_unit_test(test_filestore_file_read_only_skips_writes),
        cmocka_unit_test(test_filestore_canceled_upload_leaves_nothing),
        cmocka_unit_test(test_filestore_canceled_download_leaves_no_file_and_no_temporary),
        cmocka_unit_test(test_filestore_open_and_close_handle_null),
        cmocka_unit_test(test_filestore_closed_port_fails_fast_with_econn),
        cmocka_unit_test(test_filestore_http_is_read_only),
        cmocka_unit_test(test_filestore_open_registers_url_secrets),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
