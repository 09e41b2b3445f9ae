/*
 * tests/runtime/test_aws_config.c - runtime/aws_config.c: where endpoint,
 * region and credentials come from, in the AWS SDKs' precedence, and the
 * parsing of ~/.aws/credentials and ~/.aws/config. Uses a fake environment
 * and temp files; the process environment and the real ~/.aws are not read.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/aws_config.h"
#include "tests/test.h"

/* ---- a fake environment and temp files ---- */

struct fake_env {
    const char *vars[32][2];
    int n;
};

static const char *fake_getenv(void *ud, const char *name)
{
    struct fake_env *e = ud;
    for (int i = 0; i < e->n; i++) {
        if (strcmp(e->vars[i][0], name) == 0)
            return e->vars[i][1];
    }
    return NULL;
}

static void env_set(struct fake_env *e, const char *name, const char *value)
{
    e->vars[e->n][0] = name;
    e->vars[e->n][1] = value;
    e->n++;
}

static char tmp_dir[64];

/* Writes text to <tmp_dir>/<name> and returns the path (static, 8 slots). */
static const char *write_file(const char *name, const char *text)
{
    static char paths[8][128];
    static int slot;
    char *p = paths[slot++ % 8];
    snprintf(p, 128, "%s/%s", tmp_dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

/* Resolves with env and the two files (NULL: a path that does not exist). */
static int resolve(struct sl_aws_config *cfg, struct fake_env *env, const char *creds,
                   const char *conf, struct sl_err *err)
{
    char missing[128];
    snprintf(missing, sizeof missing, "%s/does-not-exist", tmp_dir);
    struct sl_aws_config_src src = {
        .getenv = fake_getenv,
        .getenv_ud = env,
        .credentials_file = creds ? creds : missing,
        .config_file = conf ? conf : missing,
    };
    return sl_aws_config_resolve(cfg, &src, err);
}

/* ---- credentials ---- */

TEST(env_credentials_win)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    env_set(&env, "AWS_SECRET_ACCESS_KEY", "secret/env+key");
    env_set(&env, "AWS_SESSION_TOKEN", "token-env");
    const char *creds = write_file("c1", "[default]\naws_access_key_id = AKIDFILE\n"
                                         "aws_secret_access_key = secretfile\n");
    CHECK_OK(resolve(&cfg, &env, creds, NULL, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDENV");
    CHECK_STR(cfg.secret_access_key, "secret/env+key");
    CHECK_STR(cfg.session_token, "token-env");
    CHECK(cfg.cred_source == SL_AWS_CRED_ENV);
    CHECK_STR(sl_aws_cred_source_name(cfg.cred_source), "env");
    sl_aws_config_cleanup(&cfg);
}

TEST(half_set_env_credentials_are_an_error)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDHALF");
    CHECK(resolve(&cfg, &env, NULL, NULL, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "AWS_SECRET_ACCESS_KEY") != NULL, "message: %s", err.msg);
    CHECKF(strstr(err.msg, "AKIDHALF") == NULL, "message shows the key: %s", err.msg);
    CHECK(cfg.access_key_id == NULL && cfg.region == NULL);

    struct fake_env env2 = { 0 };
    env_set(&env2, "AWS_SECRET_ACCESS_KEY", "onlythesecret");
    CHECK(resolve(&cfg, &env2, NULL, NULL, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "onlythesecret") == NULL, "message shows the secret: %s", err.msg);
}

TEST(empty_env_values_count_as_unset)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    env_set(&env, "AWS_ACCESS_KEY_ID", "");
    env_set(&env, "AWS_SECRET_ACCESS_KEY", "");
    env_set(&env, "AWS_REGION", "");
    const char *creds = write_file("c2", "[default]\naws_access_key_id=AKIDFILE\n"
                                         "aws_secret_access_key=secretfile\n");
    CHECK_OK(resolve(&cfg, &env, creds, NULL, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDFILE");
    CHECK_STR(cfg.region, "us-east-1");
    sl_aws_config_cleanup(&cfg);
}

TEST(profiles_in_credentials_and_config_files)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    const char *creds = write_file("c3", "# comment\n"
                                         "[default]\n"
                                         "aws_access_key_id = AKIDDEFAULT\n"
                                         "aws_secret_access_key = secretdefault\n"
                                         "\n"
                                         "[dev]\n"
                                         "aws_access_key_id=AKIDDEV\n"
                                         "aws_secret_access_key=secretdev\n"
                                         "aws_session_token=tokendev\n");
    const char *conf = write_file("f3", "[default]\nregion = eu-west-1\n"
                                        "[profile dev]\nregion = eu-central-1\n"
                                        "aws_access_key_id = AKIDCONFDEV\n"
                                        "aws_secret_access_key = secretconfdev\n"
                                        "[profile ci]\n"
                                        "aws_access_key_id = AKIDCI\n"
                                        "aws_secret_access_key = secretci\n"
                                        /* no "profile " prefix: not a profile */
                                        "[dev]\nregion = ap-south-1\n");
    /* default profile */
    CHECK_OK(resolve(&cfg, &env, creds, conf, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDDEFAULT");
    CHECK(cfg.session_token == NULL);
    CHECK_STR(cfg.region, "eu-west-1");
    CHECK_STR(cfg.profile, "default");
    CHECK(cfg.cred_source == SL_AWS_CRED_CREDENTIALS_FILE);
    sl_aws_config_cleanup(&cfg);
    /* AWS_PROFILE: the credentials file wins over the config file */
    env_set(&env, "AWS_PROFILE", "dev");
    CHECK_OK(resolve(&cfg, &env, creds, conf, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDDEV");
    CHECK_STR(cfg.secret_access_key, "secretdev");
    CHECK_STR(cfg.session_token, "tokendev");
    CHECK_STR(cfg.region, "eu-central-1");
    CHECK_STR(cfg.profile, "dev");
    sl_aws_config_cleanup(&cfg);
    /* keys only in the config file */
    env.vars[env.n - 1][1] = "ci";
    CHECK_OK(resolve(&cfg, &env, creds, conf, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDCI");
    CHECK(cfg.cred_source == SL_AWS_CRED_CONFIG_FILE);
    CHECK_STR(cfg.region, "us-east-1"); /* [profile ci] has none, [default]'s is not used */
    sl_aws_config_cleanup(&cfg);
    /* AWS_DEFAULT_PROFILE is the legacy name, AWS_PROFILE wins over it */
    struct fake_env env2 = { 0 };
    env_set(&env2, "AWS_DEFAULT_PROFILE", "dev");
    CHECK_OK(resolve(&cfg, &env2, creds, conf, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDDEV");
    sl_aws_config_cleanup(&cfg);
    env_set(&env2, "AWS_PROFILE", "ci");
    CHECK_OK(resolve(&cfg, &env2, creds, conf, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDCI");
    sl_aws_config_cleanup(&cfg);
}

TEST(missing_named_profile_is_an_error)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    const char *creds =
        write_file("c4", "[default]\naws_access_key_id=A\naws_secret_access_key=B\n");
    env_set(&env, "AWS_PROFILE", "nosuch");
    CHECK(resolve(&cfg, &env, creds, NULL, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "\"nosuch\"") != NULL, "message: %s", err.msg);
    /* the default profile may be missing: anonymous access */
    struct fake_env env2 = { 0 };
    CHECK_OK(resolve(&cfg, &env2, NULL, NULL, &err), &err);
    CHECK(cfg.access_key_id == NULL && cfg.secret_access_key == NULL);
    CHECK(cfg.cred_source == SL_AWS_CRED_NONE);
    CHECK_STR(sl_aws_cred_source_name(cfg.cred_source), "anonymous");
    sl_aws_config_cleanup(&cfg);
}

TEST(half_set_file_credentials_name_no_secret)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    const char *creds = write_file("c5", "[default]\naws_secret_access_key = s3cr3tvalue\n");
    CHECK(resolve(&cfg, &env, creds, NULL, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "aws_access_key_id") && strstr(err.msg, "c5"), "message: %s",
           err.msg);
    CHECKF(strstr(err.msg, "s3cr3tvalue") == NULL, "message shows the secret: %s", err.msg);
}

TEST(unsupported_credential_sources_are_named)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    const char *conf = write_file("f6", "[profile role]\nrole_arn = arn:aws:iam::1:role/x\n"
                                        "source_profile = default\n"
                                        "[profile proc]\ncredential_process = /bin/creds\n"
                                        "[profile sso]\nsso_session = corp\n");
    env_set(&env, "AWS_PROFILE", "role");
    CHECK(resolve(&cfg, &env, NULL, conf, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "role_arn") != NULL, "message: %s", err.msg);
    env.vars[0][1] = "proc";
    CHECK(resolve(&cfg, &env, NULL, conf, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "credential_process") != NULL, "message: %s", err.msg);
    /* static keys in the credentials file come before a credential_process */
    const char *creds = write_file("c6", "[proc]\naws_access_key_id=AKIDPROC\n"
                                         "aws_secret_access_key=x\n");
    CHECK_OK(resolve(&cfg, &env, creds, conf, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDPROC");
    sl_aws_config_cleanup(&cfg);
    env.vars[0][1] = "sso";
    CHECK(resolve(&cfg, &env, NULL, conf, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "sso_session") != NULL, "message: %s", err.msg);
    /* env credentials need no profile source at all */
    env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    env_set(&env, "AWS_SECRET_ACCESS_KEY", "x");
    CHECK_OK(resolve(&cfg, &env, NULL, conf, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDENV");
    sl_aws_config_cleanup(&cfg);
    /* web identity from the environment is not fetched: say so */
    struct fake_env env2 = { 0 };
    env_set(&env2, "AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token");
    CHECK(resolve(&cfg, &env2, NULL, NULL, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "AWS_WEB_IDENTITY_TOKEN_FILE") != NULL, "message: %s", err.msg);
}

/* ---- region and endpoint ---- */

TEST(region_precedence)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    const char *conf = write_file("f7", "[profile p]\nregion = eu-north-1\n");
    env_set(&env, "AWS_PROFILE", "p");
    CHECK_OK(resolve(&cfg, &env, NULL, conf, &err), &err);
    CHECK_STR(cfg.region, "eu-north-1");
    sl_aws_config_cleanup(&cfg);
    env_set(&env, "AWS_DEFAULT_REGION", "us-west-2");
    CHECK_OK(resolve(&cfg, &env, NULL, conf, &err), &err);
    CHECK_STR(cfg.region, "us-west-2");
    sl_aws_config_cleanup(&cfg);
    env_set(&env, "AWS_REGION", "ca-central-1");
    CHECK_OK(resolve(&cfg, &env, NULL, conf, &err), &err);
    CHECK_STR(cfg.region, "ca-central-1");
    CHECK_STR(cfg.endpoint, "https://s3.ca-central-1.amazonaws.com");
    sl_aws_config_cleanup(&cfg);
    struct fake_env env2 = { 0 };
    env_set(&env2, "AWS_REGION", "us-east-1\nx");
    CHECK(resolve(&cfg, &env2, NULL, NULL, &err) == SL_ECONFIG);
}

TEST(endpoint_precedence_and_addressing)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    /* nothing set: AWS itself, virtual-hosted style */
    CHECK_OK(resolve(&cfg, &env, NULL, NULL, &err), &err);
    CHECK_STR(cfg.endpoint, "https://s3.us-east-1.amazonaws.com");
    CHECK(!cfg.endpoint_is_custom && !cfg.path_style);
    sl_aws_config_cleanup(&cfg);

    const char *conf = write_file("f8", "[default]\n"
                                        "endpoint_url = http://profile-endpoint:9000\n"
                                        "services = local\n"
                                        "\n"
                                        "[services local]\n"
                                        "s3 =\n"
                                        "  endpoint_url = http://services-endpoint:9000/\n"
                                        "dynamodb =\n"
                                        "  endpoint_url = http://dynamo:8000\n");
    const char *conf_no_services =
        write_file("f8b", "[default]\nendpoint_url = http://profile-endpoint:9000\n");
    CHECK_OK(resolve(&cfg, &env, NULL, conf_no_services, &err), &err);
    CHECK_STR(cfg.endpoint, "http://profile-endpoint:9000");
    CHECK(cfg.endpoint_is_custom && cfg.path_style);
    sl_aws_config_cleanup(&cfg);
    CHECK_OK(resolve(&cfg, &env, NULL, conf, &err), &err);
    CHECK_STR(cfg.endpoint, "http://services-endpoint:9000");
    sl_aws_config_cleanup(&cfg);
    env_set(&env, "AWS_ENDPOINT_URL", "http://127.0.0.1:4569/");
    CHECK_OK(resolve(&cfg, &env, NULL, conf, &err), &err);
    CHECK_STR(cfg.endpoint, "http://127.0.0.1:4569");
    sl_aws_config_cleanup(&cfg);
    env_set(&env, "AWS_ENDPOINT_URL_S3", "https://s3.example.test");
    CHECK_OK(resolve(&cfg, &env, NULL, conf, &err), &err);
    CHECK_STR(cfg.endpoint, "https://s3.example.test");
    CHECK(cfg.path_style);
    sl_aws_config_cleanup(&cfg);
    /* every configured endpoint can be switched off */
    env_set(&env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
    CHECK_OK(resolve(&cfg, &env, NULL, conf, &err), &err);
    CHECK_STR(cfg.endpoint, "https://s3.us-east-1.amazonaws.com");
    CHECK(!cfg.path_style);
    sl_aws_config_cleanup(&cfg);
}

TEST(bad_endpoints_are_config_errors)
{
    const char *bad[] = { "localhost:9000", "ftp://x", "http://", "http:///path",
                          "http://user:pw@host", "http://host/a b", "http://host?x=1" };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        struct fake_env env = { 0 };
        struct sl_aws_config cfg;
        struct sl_err err = { 0 };
        env_set(&env, "AWS_ENDPOINT_URL", bad[i]);
        CHECKF(resolve(&cfg, &env, NULL, NULL, &err) == SL_ECONFIG, "accepted \"%s\"", bad[i]);
        CHECKF(strstr(err.msg, "AWS_ENDPOINT_URL") != NULL, "message: %s", err.msg);
        CHECKF(strstr(err.msg, "pw@") == NULL, "message shows a password: %s", err.msg);
    }
}

TEST(addressing_style_setting)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    const char *conf = write_file("f9", "[default]\ns3 =\n    addressing_style = path\n");
    CHECK_OK(resolve(&cfg, &env, NULL, conf, &err), &err);
    CHECK(cfg.path_style && !cfg.endpoint_is_custom);
    sl_aws_config_cleanup(&cfg);
    conf = write_file("f9b", "[default]\nendpoint_url = http://minio:9000\n"
                             "s3 =\n  addressing_style = virtual\n");
    CHECK_OK(resolve(&cfg, &env, NULL, conf, &err), &err);
    CHECK(!cfg.path_style && cfg.endpoint_is_custom);
    sl_aws_config_cleanup(&cfg);
}

TEST(default_endpoints)
{
    char *e = sl_aws_config_default_endpoint("eu-west-3");
    CHECK_STR(e, "https://s3.eu-west-3.amazonaws.com");
    sl_free(e);
    e = sl_aws_config_default_endpoint("cn-north-1");
    CHECK_STR(e, "https://s3.cn-north-1.amazonaws.com.cn");
    sl_free(e);
}

/* ---- parsing ---- */

TEST(ini_syntax)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    const char *creds = write_file("c10", "; semicolon comment\r\n"
                                          "  # indented comment\r\n"
                                          "[ other ]\r\n"
                                          "aws_access_key_id = WRONG\r\n"
                                          "[default]\r\n"
                                          "AWS_ACCESS_KEY_ID: AKIDCOLON\r\n"
                                          "aws_secret_access_key   =   with=equals/and+plus==  \r\n"
                                          "aws_session_token =\r\n");
    const char *conf = write_file("f10", "[default]\n"
                                         "s3 =\n"
                                         "  endpoint_url = http://nested-only:1\n"
                                         "region=sa-east-1\n");
    CHECK_OK(resolve(&cfg, &env, creds, conf, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDCOLON");
    CHECK_STR(cfg.secret_access_key, "with=equals/and+plus==");
    CHECK(cfg.session_token == NULL); /* empty value: none */
    CHECK_STR(cfg.region, "sa-east-1");
    /* a nested s3 endpoint_url outside a services section is not the profile's */
    CHECK_STR(cfg.endpoint, "https://s3.sa-east-1.amazonaws.com");
    sl_aws_config_cleanup(&cfg);

    const char *bad1 = write_file("c11", "aws_access_key_id = X\n");
    CHECK(resolve(&cfg, &env, bad1, NULL, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "c11:1") != NULL, "message: %s", err.msg);
    const char *bad2 = write_file("c12", "[default]\n[broken\n");
    CHECK(resolve(&cfg, &env, bad2, NULL, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "c12:2") != NULL, "message: %s", err.msg);
    const char *bad3 = write_file("c13", "[default]\njust some words\n");
    CHECK(resolve(&cfg, &env, bad3, NULL, &err) == SL_ECONFIG);
    CHECKF(strstr(err.msg, "c13:2") != NULL, "message: %s", err.msg);
}

TEST(files_from_env_and_home)
{
    struct fake_env env = { 0 };
    struct sl_aws_config cfg;
    struct sl_err err = { 0 };
    char home[128], aws[160], path[200];
    snprintf(home, sizeof home, "%s/home", tmp_dir);
    snprintf(aws, sizeof aws, "%s/.aws", home);
    mkdir(home, 0700);
    mkdir(aws, 0700);
    snprintf(path, sizeof path, "%s/credentials", aws);
    FILE *f = fopen(path, "w");
    fputs("[default]\naws_access_key_id=AKIDHOME\naws_secret_access_key=x\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/config", aws);
    f = fopen(path, "w");
    fputs("[default]\nregion=af-south-1\n", f);
    fclose(f);
    env_set(&env, "HOME", home);
    struct sl_aws_config_src src = { .getenv = fake_getenv, .getenv_ud = &env };
    CHECK_OK(sl_aws_config_resolve(&cfg, &src, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDHOME");
    CHECK_STR(cfg.region, "af-south-1");
    sl_aws_config_cleanup(&cfg);
    /* AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE move them ("~" expands) */
    write_file("other-creds", "[default]\naws_access_key_id=AKIDOTHER\naws_secret_access_key=y\n");
    char other[200];
    snprintf(other, sizeof other, "%s/other-creds", tmp_dir);
    env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", other);
    env_set(&env, "AWS_CONFIG_FILE", "~/nothing-here");
    CHECK_OK(sl_aws_config_resolve(&cfg, &src, &err), &err);
    CHECK_STR(cfg.access_key_id, "AKIDOTHER");
    CHECK_STR(cfg.region, "us-east-1");
    sl_aws_config_cleanup(&cfg);
    /* a folder where a file should be cannot be read */
    env.vars[1][1] = tmp_dir;
    CHECK(sl_aws_config_resolve(&cfg, &src, &err) == SL_ECONFIG);
    /* no HOME and no variables: no files, anonymous */
    struct fake_env empty = { 0 };
    src.getenv_ud = &empty;
    CHECK_OK(sl_aws_config_resolve(&cfg, &src, &err), &err);
    CHECK(cfg.access_key_id == NULL);
    sl_aws_config_cleanup(&cfg);
}

TEST(allocation_failures_are_clean)
{
    struct fake_env env = { 0 };
    struct sl_err err = { 0 };
    const char *creds = write_file("c14", "[default]\naws_access_key_id=A\n"
                                          "aws_secret_access_key=B\naws_session_token=C\n");
    const char *conf = write_file("f14", "[default]\nregion=eu-west-1\nendpoint_url=http://h:1\n");
    int rc = SL_ENOMEM;
    long nth;
    for (nth = 1; nth < 500 && rc == SL_ENOMEM; nth++) {
        struct sl_aws_config cfg;
        sl_alloc_fail_reset(nth);
        rc = resolve(&cfg, &env, creds, conf, &err);
        sl_alloc_fail_reset(0);
        if (rc == SL_OK) {
            CHECK_STR(cfg.endpoint, "http://h:1");
            sl_aws_config_cleanup(&cfg);
        } else {
            CHECKF(rc == SL_ENOMEM, "step %ld: %d %s", nth, rc, err.msg);
            CHECK(cfg.access_key_id == NULL && cfg.endpoint == NULL);
        }
    }
    CHECKF(rc == SL_OK, "still failing after %ld steps", nth);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/sl-test-aws-config-XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        printf("not ok - aws_config: cannot make a temp dir\n");
        return 1;
    }
    RUN(env_credentials_win);
    RUN(half_set_env_credentials_are_an_error);
    RUN(empty_env_values_count_as_unset);
    RUN(profiles_in_credentials_and_config_files);
    RUN(missing_named_profile_is_an_error);
    RUN(half_set_file_credentials_name_no_secret);
    RUN(unsupported_credential_sources_are_named);
    RUN(region_precedence);
    RUN(endpoint_precedence_and_addressing);
    RUN(bad_endpoints_are_config_errors);
    RUN(addressing_style_setting);
    RUN(default_endpoints);
    RUN(ini_syntax);
    RUN(files_from_env_and_home);
    RUN(allocation_failures_are_clean);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmp_dir);
    TEST_EXIT();
}
