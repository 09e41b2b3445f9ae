/*
 * runtime/aws_config.h - where to reach S3 and with which credentials,
 * resolved as the AWS SDKs and CLI do (environment, then the shared
 * credentials and config files of a profile).
 *
 * Precedence (first found wins):
 *   credentials  AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *                else the profile's aws_access_key_id/aws_secret_access_key/
 *                aws_session_token in the credentials file ([name]), then in the
 *                config file ([profile name], or [default]); else anonymous
 *                (requests are not signed).
 *   profile      AWS_PROFILE, AWS_DEFAULT_PROFILE, "default".
 *   files        AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials),
 *                AWS_CONFIG_FILE (~/.aws/config).
 *   region       AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1.
 *   endpoint     AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's services
 *                section "s3 = endpoint_url = ...", the profile's endpoint_url
 *                (all ignored when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true);
 *                else AWS itself: https://s3.<region>.amazonaws.com with
 *                virtual-hosted-style addressing. A configured endpoint uses
 *                path-style addressing (http://host:port/bucket/key).
 * Not supported (SL_ECONFIG names them when a profile relies on one):
 * credential_process, role_arn, SSO and web identity profiles; container and
 * instance-metadata credentials are not looked up.
 *
 * Error messages name variables, files, profiles and keys, never their secret
 * values.
 */
#ifndef SL_AWS_CONFIG_H
#define SL_AWS_CONFIG_H

#include <stdbool.h>

#include "err.h"

/* Looks up an environment variable: a borrowed string, or NULL when unset. */
typedef const char *(*sl_aws_getenv_fn)(void *ud, const char *name);

/* Where the settings come from. Tests pass their own lookup and files. */
struct sl_aws_config_src {
    sl_aws_getenv_fn getenv; /* NULL: the process environment */
    void *getenv_ud;
    const char *credentials_file; /* NULL: from the environment as above */
    const char *config_file;      /* NULL: from the environment as above */
};

enum sl_aws_cred_source {
    SL_AWS_CRED_NONE, /* anonymous */
    SL_AWS_CRED_ENV,
    SL_AWS_CRED_CREDENTIALS_FILE,
    SL_AWS_CRED_CONFIG_FILE,
};

struct sl_aws_config {
    char *access_key_id;     /* owned; NULL when anonymous */
    char *secret_access_key; /* owned; NULL when anonymous */
    char *session_token;     /* owned; NULL when none */
    char *region;            /* owned; never NULL after a successful resolve */
    char *endpoint;          /* owned; "scheme://host[:port][/path]" without a trailing '/' */
    char *profile;           /* owned; the profile that was looked at */
    bool endpoint_is_custom; /* endpoint came from configuration (not AWS's default) */
    bool path_style;         /* address buckets as endpoint/bucket/key */
    enum sl_aws_cred_source cred_source;
};

/* Resolves everything from src (NULL: the real environment and files) into
 * cfg, which the caller zero-initializes or passes fresh; on failure cfg is
 * left cleaned up. SL_ECONFIG for a file that exists but cannot be read, a
 * profile named by AWS_PROFILE that exists in neither file, half-set
 * credentials, a malformed endpoint URL, or a profile relying on an
 * unsupported credential source. A missing file is not an error (as in the
 * SDKs).
 * SL_ENOMEM on allocation failure. Thread-safe when src's getenv is. */
int sl_aws_config_resolve(struct sl_aws_config *cfg, const struct sl_aws_config_src *src,
                          struct sl_err *err);
void sl_aws_config_cleanup(struct sl_aws_config *cfg);

/* The host and scheme of the AWS endpoint for region: owned (sl_free), NULL on
 * OOM. "https://s3.<region>.amazonaws.com" (".amazonaws.com.cn" in cn-*). */
char *sl_aws_config_default_endpoint(const char *region);

/* "env", "credentials file", "config file" or "anonymous" (static). */
const char *sl_aws_cred_source_name(enum sl_aws_cred_source s);

#endif
