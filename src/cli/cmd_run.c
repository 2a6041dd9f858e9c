/* cmd_run.c — `kvs run [options] -- CMD ARGS...`: run an Actor on this machine against the
 * server, as the platform runs it, so that code written for the platform (the `apify` SDK, JS
 * or Python) runs unchanged and its INPUT and OUTPUT live in its run's default store.
 *
 *   1. The run and its default store are made on the server (POST /v2/actor-runs, libkvs) and
 *      the input is stored there as record INPUT: --input FILE (its type from its name, JSON by
 *      default), --input-json TEXT, or, as `apify run` does, ./storage/key_value_stores/default/
 *      INPUT.json when it exists.
 *   2. CMD runs with the environment both SDKs read "at home" (APIFY_IS_AT_HOME, the API's URLs
 *      and token, the run's IDs and times, in their APIFY_* and ACTOR_* spellings; no events
 *      websocket), and with this process's stdin, stdout and stderr.
 *   3. While it runs: SIGINT, SIGTERM and SIGHUP sent to kvs are passed on to CMD; the run is
 *      looked at every second (which also keeps its store from expiring), and when it was
 *      aborted (API, console) CMD is stopped: SIGTERM, then SIGKILL after a grace period; the
 *      same when --timeout passes.
 *   4. The run is finished: SUCCEEDED (exit 0), FAILED (another exit code or a signal),
 *      ABORTED, TIMED-OUT; its ID, console link and OUTPUT link are printed on stderr, and kvs
 *      exits with CMD's status (128 + N for signal N).
 *
 * Process groups: on a terminal, CMD stays in kvs's process group, so that the terminal's
 * signals (Ctrl-C, Ctrl-Z) reach it as they would without kvs, and kvs passes on only the
 * signals another process sent. Otherwise CMD gets a process group of its own, and signals go
 * to that whole group, children of CMD included. CMD dies with kvs (PR_SET_PDEATHSIG). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/validate.h"

#define POLL_MS 1000         /* how often the run is looked at */
#define POLL_TIMEOUT_MS 5000 /* a look that takes longer is given up (the next one may work) */
#define GRACE_MS 5000        /* from SIGTERM to SIGKILL when the run is aborted or times out */
#define APIFY_INPUT "storage/key_value_stores/default/INPUT.json" /* what `apify run` reads */
#define HINT "kvs run --help"

extern char **environ;

static void help(FILE *out)
{
    fprintf(out,
            "usage: kvs run [options] -- CMD [ARGS...]\n"
            "\n"
            "Run an Actor on this machine against the server: make a run and its default store,\n"
            "store the input as record INPUT, run CMD with the environment the Apify SDKs read\n"
            "on the platform (Actor.getInput() reads INPUT, Actor.setValue('OUTPUT', ...)\n"
            "writes to the run's store), and mark the run SUCCEEDED, FAILED, ABORTED or\n"
            "TIMED-OUT with CMD's exit code. kvs exits with CMD's status.\n"
            "\n"
            "options:\n"
            "  --input FILE        the input: FILE's content, its type from its name (JSON when\n"
            "                      the name says nothing). Default: %s\n"
            "                      when it exists (as `apify run`), else no input\n"
            "  --input-json JSON   the input: this JSON text\n"
            "  --actor NAME        the Actor's name (default: the \"name\" of\n"
            "                      .actor/actor.json, else the directory's name)\n"
            "  --timeout DURATION  stop CMD after this long (seconds, or 90s, 10m, 2h): SIGTERM,\n"
            "                      SIGKILL %d s later; the run is then TIMED-OUT\n"
            "  --url URL           the server (default $KVS_URL)\n"
            "  --token TOKEN       your API token (default $KVS_TOKEN)\n"
            "\n"
            "While CMD runs, an abort through the API or the console stops it (SIGTERM, then\n"
            "SIGKILL after %d s); SIGINT, SIGTERM and SIGHUP sent to kvs go to CMD. At the end\n"
            "the run's ID, its console link and a link to its OUTPUT record are printed on\n"
            "stderr.\n",
            APIFY_INPUT, GRACE_MS / 1000, GRACE_MS / 1000);
}

/* ==== signals ================================================================================= */

static volatile sig_atomic_t got_signal; /* the last signal to pass on; 0 when none */
static volatile sig_atomic_t got_signals; /* how many came */
static volatile sig_atomic_t from_terminal; /* the last one came from the terminal */
static int wake_pipe[2] = {-1, -1};         /* written by the handlers: the loop wakes */

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    int saved = errno;
    if (sig != SIGCHLD) {
        got_signal = sig;
        got_signals++;
        from_terminal = si != NULL && si->si_code == SI_KERNEL;
    }
    if (wake_pipe[1] >= 0 && write(wake_pipe[1], "x", 1) < 0) {
        /* the pipe is full: the loop wakes anyway */
    }
    errno = saved;
}

static int install_handlers(void)
{
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return -1;
    return 0;
}

/* ==== the Actor's name and input ============================================================== */

/* NAME made into an Actor name (the store-name rule) in OUT: lower case, every other character
 * a hyphen, no hyphen first, last or twice in a row, at most KVS_NAME_MAX. "" when nothing is
 * left. */
static void actor_name_of(const char *name, char out[KVS_NAME_MAX + 1])
{
    size_t n = 0;
    for (const char *p = name; *p && n < KVS_NAME_MAX; p++) {
        char ch = *p;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            ch = '-';
        if (ch == '-' && (n == 0 || out[n - 1] == '-'))
            continue;
        out[n++] = ch;
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
}

/* The default Actor name: "name" of ./.actor/actor.json (as the Apify CLI), else the current
 * directory's name, else "local". */
static void default_actor(char out[KVS_NAME_MAX + 1])
{
    out[0] = '\0';
    json_t *doc = json_load_file(".actor/actor.json", 0, NULL);
    const char *name = json_string_value(json_object_get(doc, "name"));
    if (name != NULL)
        actor_name_of(name, out);
    json_decref(doc);
    char cwd[PATH_MAX];
    if (out[0] == '\0' && getcwd(cwd, sizeof cwd) != NULL) {
        const char *base = strrchr(cwd, '/');
        actor_name_of(base ? base + 1 : cwd, out);
    }
    if (out[0] == '\0')
        snprintf(out, KVS_NAME_MAX + 1, "local");
}

struct input {
    const char *file; /* --input, or the default file of `apify run` */
    const char *json; /* --input-json */
    const char *type;
    int fd; /* the file, opened before the run is made: a typo makes no run */
};

/* Check and open the input. Returns 0 or the exit status of the failure, printed. */
static int input_open(struct input *in)
{
    in->fd = -1;
    in->type = "application/json; charset=utf-8";
    if (in->json != NULL) {
        json_error_t err;
        json_t *doc = json_loads(in->json, JSON_DECODE_ANY, &err);
        if (doc == NULL)
            return kvs_cli_usage_error(HINT, "--input-json is not JSON: %s", err.text);
        json_decref(doc);
        return 0;
    }
    if (in->file == NULL) {
        struct stat st;
        if (stat(APIFY_INPUT, &st) != 0 || !S_ISREG(st.st_mode))
            return 0; /* no input: Actor.getInput() gives null */
        in->file = APIFY_INPUT;
        fprintf(stderr, "kvs: input from %s (as `apify run`)\n", APIFY_INPUT);
    }
    in->fd = open(in->file, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0)
        return kvs_cli_fail("%s: %s", in->file, strerror(errno));
    const char *t = kvs_cli_type_of_name(in->file);
    if (t != NULL)
        in->type = t;
    return 0;
}

/* ==== the run ================================================================================= */

struct runner {
    kvs_client *c;
    kvs_client *poll; /* for the looks at the run: no retries, a short timeout, so that signals
                         and timeouts are handled while the server is away */
    struct kvs_run_info *run;
    char base[512];   /* the server's public URL (from the run's console link) */
    char token[1024]; /* for the Actor's environment */
    pid_t pid;
    int own_group; /* CMD has a process group of its own (not on a terminal) */
    int64_t deadline_ms; /* --timeout, monotonic; 0: none */
    int64_t kill_at_ms;  /* SIGKILL then; 0: not stopping */
    int aborted, timed_out, interrupted;
};

/* Send SIG to CMD (its whole group when it has one). */
static void signal_cmd(struct runner *x, int sig)
{
    if (x->pid > 0)
        kill(x->own_group ? -x->pid : x->pid, sig);
}

/* Stop CMD: SIGTERM now, SIGKILL after the grace period. */
static void stop_cmd(struct runner *x)
{
    if (x->kill_at_ms != 0)
        return;
    signal_cmd(x, SIGTERM);
    x->kill_at_ms = kvs_mono_ms() + GRACE_MS;
}

/* Set NAME=VALUE in the environment of CMD (this process's, inherited by exec). */
static void set_env(const char *name, const char *value)
{
    if (value != NULL)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

/* Both spellings: ACTOR_<NAME> (SDK v3+) and APIFY_<NAME>. */
static void set_env2(const char *name, const char *value)
{
    char a[64], b[64];
    snprintf(a, sizeof a, "ACTOR_%s", name);
    snprintf(b, sizeof b, "APIFY_%s", name);
    set_env(a, value);
    set_env(b, value);
}

/* The environment of an Actor at home, for run X (see the top of the file). */
static void actor_env(const struct runner *x, const char *url)
{
    const struct kvs_run_info *r = x->run;
    char num[32];
    set_env("APIFY_IS_AT_HOME", "1");
    set_env("APIFY_API_BASE_URL", url);
    set_env("APIFY_API_PUBLIC_BASE_URL", x->base);
    set_env("APIFY_TOKEN", x->token);
    set_env("ACTOR_RUN_ID", r->id);
    set_env("APIFY_ACTOR_RUN_ID", r->id);
    set_env("ACTOR_ID", r->act_id);
    set_env("APIFY_ACTOR_ID", r->act_id);
    set_env("APIFY_USER_ID", r->user_id);
    set_env2("DEFAULT_KEY_VALUE_STORE_ID", r->default_key_value_store_id);
    set_env2("DEFAULT_DATASET_ID", r->default_dataset_id);
    set_env2("DEFAULT_REQUEST_QUEUE_ID", r->default_request_queue_id);
    set_env2("INPUT_KEY", "INPUT");
    set_env2("STARTED_AT", r->started_at);
    set_env("ACTOR_BUILD_ID", r->build_id);
    set_env("APIFY_ACTOR_BUILD_ID", r->build_id);
    set_env("ACTOR_BUILD_NUMBER", "0.0.0");
    set_env("APIFY_ACTOR_BUILD_NUMBER", "0.0.0");
    snprintf(num, sizeof num, "%lld", (long long)r->memory_mbytes);
    set_env2("MEMORY_MBYTES", num);
    set_env2("TIMEOUT_AT", NULL);
    if (r->timeout_secs > 0 && r->started_at != NULL) {
        /* the ISO time of start + timeout: "YYYY-MM-DDTHH:MM:SS.mmmZ" */
        struct tm tm = {0};
        int ms = 0;
        if (sscanf(r->started_at, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7) {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            time_t t = timegm(&tm) + (time_t)r->timeout_secs;
            char iso[40];
            struct tm out;
            gmtime_r(&t, &out);
            strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &out);
            snprintf(iso + strlen(iso), sizeof iso - strlen(iso), ".%03dZ", ms);
            set_env2("TIMEOUT_AT", iso);
        }
    }
    /* No platform events: both SDKs skip the websocket when these are unset. No task. */
    set_env("ACTOR_EVENTS_WEBSOCKET_URL", NULL);
    set_env("APIFY_ACTOR_EVENTS_WS_URL", NULL);
    set_env("ACTOR_TASK_ID", NULL);
    set_env("APIFY_ACTOR_TASK_ID", NULL);
    set_env("ACTOR_MAX_TOTAL_CHARGE_USD", NULL);
    /* The SDKs read pricing from the run (which has none: free) unless these say otherwise. */
    set_env("APIFY_ACTOR_PRICING_INFO", NULL);
    set_env("APIFY_CHARGED_ACTOR_EVENT_COUNTS", NULL);
}

/* Start CMD (ARGV) for X. Returns 0 or the exit status of the failure, printed. */
static int spawn(struct runner *x, char **argv)
{
    x->own_group = !(isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp());
    pid_t parent = getpid();
    int err_pipe[2];
    if (pipe2(err_pipe, O_CLOEXEC) != 0)
        return kvs_cli_fail("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(err_pipe[0]);
        close(err_pipe[1]);
        return kvs_cli_fail("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* the child: default signal handling, its own group off a terminal, die with kvs */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        if (x->own_group)
            setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127); /* kvs died before the line above */
        execvp(argv[0], argv);
        int e = errno;
        if (write(err_pipe[1], &e, sizeof e) < 0) {
            /* nothing more to do: the exit status says it */
        }
        _exit(127);
    }
    if (x->own_group)
        setpgid(pid, pid); /* also here: whichever runs first, the group exists before a kill */
    x->pid = pid;
    close(err_pipe[1]);
    int e = 0;
    ssize_t n;
    while ((n = read(err_pipe[0], &e, sizeof e)) < 0 && errno == EINTR) {
    }
    close(err_pipe[0]);
    if (n == (ssize_t)sizeof e) {
        waitpid(pid, NULL, 0);
        x->pid = 0;
        return kvs_cli_fail("cannot run %s: %s", argv[0], strerror(e));
    }
    return 0;
}

/* Look at the run: stop CMD when it was aborted (or deleted). */
static void check_run(struct runner *x)
{
    struct kvs_run_info *now = NULL;
    int rc = kvs_run_get(x->poll, x->run->id, 0, &now);
    if (rc == 0 && (strcmp(now->status, "ABORTING") == 0 || strcmp(now->status, "ABORTED") == 0)) {
        if (!x->aborted)
            fprintf(stderr, "kvs: run %s was aborted: stopping %s\n", x->run->id,
                    x->own_group ? "its process group" : "its process");
        x->aborted = 1;
        stop_cmd(x);
    } else if (rc == KVS_ENOTFOUND) {
        fprintf(stderr, "kvs: run %s was deleted: stopping it\n", x->run->id);
        x->aborted = 1;
        stop_cmd(x);
    }
    /* another failure (the server restarting): CMD goes on; the next look may succeed */
    kvs_free(now);
}

/* Wait for CMD to end, doing what comes meanwhile. Returns its wait status. */
static int supervise(struct runner *x)
{
    int64_t next_look = kvs_mono_ms() + POLL_MS;
    int passed = 0; /* signals handled */
    for (;;) {
        int status;
        pid_t w = waitpid(x->pid, &status, WNOHANG);
        if (w == x->pid)
            return status;
        if (w < 0 && errno != EINTR)
            return 0; /* cannot happen: CMD is our child */
        int64_t now = kvs_mono_ms();
        if (got_signals != passed) {
            passed = got_signals;
            x->interrupted = 1;
            /* On a terminal CMD has the terminal's signals already; the rest is passed on. A
             * second signal from the terminal means it: SIGKILL. */
            if (!x->own_group && from_terminal) {
                if (passed > 1)
                    signal_cmd(x, SIGKILL);
            } else {
                signal_cmd(x, passed > 2 ? SIGKILL : got_signal);
            }
        }
        if (x->deadline_ms != 0 && now >= x->deadline_ms && !x->timed_out) {
            fprintf(stderr, "kvs: run %s timed out: stopping it\n", x->run->id);
            x->timed_out = 1;
            stop_cmd(x);
        }
        if (now >= next_look) {
            check_run(x);
            next_look = kvs_mono_ms() + POLL_MS;
        }
        if (x->kill_at_ms != 0 && now >= x->kill_at_ms) {
            signal_cmd(x, SIGKILL);
            x->kill_at_ms = INT64_MAX; /* once */
        }
        struct pollfd pfd = {wake_pipe[0], POLLIN, 0};
        int wait = (int)(next_look - kvs_mono_ms());
        if (wait > 100)
            wait = 100; /* timers are checked at least this often */
        if (poll(&pfd, 1, wait < 0 ? 0 : wait) > 0) {
            char buf[64];
            while (read(wake_pipe[0], buf, sizeof buf) > 0) {
            }
        }
    }
}

/* The status name for how CMD ended (wait status ST), and its exit code into *CODE. */
static const char *final_status(const struct runner *x, int st, int *code)
{
    *code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
    if (x->timed_out)
        return "TIMED-OUT";
    if (x->aborted)
        return "ABORTED";
    if (*code == 0)
        return "SUCCEEDED";
    /* ended by a signal that kvs passed on (Ctrl-C, a kill of kvs): aborted by its user */
    return x->interrupted && WIFSIGNALED(st) ? "ABORTED" : "FAILED";
}

/* Print how run R ended and where its OUTPUT is. */
static void report(struct runner *x, const struct kvs_run_info *r, double secs)
{
    if (r->has_exit_code)
        fprintf(stderr, "kvs: run %s %s (exit code %lld) in %.1f s\n", r->id, r->status,
                (long long)r->exit_code, secs);
    else
        fprintf(stderr, "kvs: run %s %s in %.1f s\n", r->id, r->status, secs);
    if (r->status_message != NULL)
        fprintf(stderr, "kvs:   status   %s\n", r->status_message);
    fprintf(stderr, "kvs:   console  %s\n", r->console_url ? r->console_url : "-");
    char *url = NULL;
    int has = kvs_record_exists(x->c, r->default_key_value_store_id, "OUTPUT");
    if (has == 1 && kvs_record_url(x->c, r->default_key_value_store_id, "OUTPUT", &url) == 0)
        fprintf(stderr, "kvs:   OUTPUT   %s\n", url);
    else if (has == 0)
        fprintf(stderr, "kvs:   OUTPUT   none (the Actor stored no record OUTPUT)\n");
    kvs_free(url);
}

/* ==== the command ============================================================================= */

int kvs_cli_run_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'i'}, {"input-json", required_argument, NULL, 'j'},
        {"actor", required_argument, NULL, 'a'}, {"timeout", required_argument, NULL, 't'},
        {"url", required_argument, NULL, 'u'},   {"token", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    struct input in = {0};
    const char *actor = NULL, *url = getenv("KVS_URL"), *token = getenv("KVS_TOKEN");
    uint64_t timeout_ms = 0;
    int opt;
    optind = 1;
    opterr = 0;
    /* "+": the options end at CMD, whose own options are its */
    while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            in.file = optarg;
            break;
        case 'j':
            in.json = optarg;
            break;
        case 'a':
            actor = optarg;
            break;
        case 't': {
            /* plain seconds (the platform's timeoutSecs), or a duration: 90s, 10m, 2h */
            char *end;
            unsigned long long secs = strtoull(optarg, &end, 10);
            if (*optarg >= '0' && *optarg <= '9' && *end == '\0' && secs <= UINT32_MAX)
                timeout_ms = secs * 1000;
            else if (kvs_parse_duration_ms(optarg, &timeout_ms) != 0 || timeout_ms % 1000 != 0 ||
                     timeout_ms / 1000 > UINT32_MAX)
                return kvs_cli_usage_error(HINT, "--timeout wants whole seconds: 30, 90s, 10m, 2h");
            break;
        }
        case 'u':
            url = optarg;
            break;
        case 'k':
            token = optarg;
            break;
        case 'h':
            help(stdout);
            return 0;
        default:
            return kvs_cli_usage_error(HINT, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return kvs_cli_usage_error(HINT, "give the command to run: kvs run -- CMD [ARGS...]");
    if (in.file != NULL && in.json != NULL)
        return kvs_cli_usage_error(HINT, "give --input or --input-json, not both");
    if (url == NULL || *url == '\0')
        return kvs_cli_usage_error(HINT, "give --url URL (or set KVS_URL)");
    if (token == NULL || *token == '\0')
        return kvs_cli_usage_error(HINT, "give --token TOKEN (or set KVS_TOKEN): a run is yours");
    char name[KVS_NAME_MAX + 1];
    if (actor != NULL) {
        if (!kvs_valid_store_name(kvs_slice_of(actor)))
            return kvs_cli_usage_error(HINT, "'%s' is no Actor name: a-z, 0-9 and '-' inside, "
                                             "at most 63", actor);
        snprintf(name, sizeof name, "%s", actor);
    } else {
        default_actor(name);
    }
    int rc = input_open(&in);
    if (rc != 0)
        return rc;

    struct runner x = {0};
    snprintf(x.token, sizeof x.token, "%s", token);
    rc = kvs_cli_connect(url, token, -1, &x.c);
    if (rc == 0)
        rc = kvs_cli_connect(url, token, 0, &x.poll);
    if (rc == 0 && (kvs_client_set(x.poll, KVS_OPT_TIMEOUT_MS, POLL_TIMEOUT_MS) != 0 ||
                    kvs_client_set(x.poll, KVS_OPT_CONNECT_TIMEOUT_MS, POLL_TIMEOUT_MS) != 0))
        rc = kvs_cli_fail("cannot set the client's timeouts");
    if (rc != 0)
        goto out;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int64_t memory = pages > 0 && page > 0 ? (int64_t)pages / (1024 * 1024 / page) : 0;
    if (memory > 32768)
        memory = 32768; /* the platform's largest */
    int err = kvs_run_start(x.c, name, "CLI", (int64_t)(timeout_ms / 1000), memory >= 128 ? memory : 0,
                            &x.run);
    if (err != 0) {
        rc = kvs_cli_api_fail(x.c, err, "cannot start a run of %s", name);
        goto out;
    }
    snprintf(x.base, sizeof x.base, "%s", x.run->console_url ? x.run->console_url : url);
    char *console = strstr(x.base, "/console/");
    if (console != NULL)
        *console = '\0';
    fprintf(stderr, "kvs: run %s of Actor %s, default store %s\n", x.run->id, name,
            x.run->default_key_value_store_id);
    const char *store = x.run->default_key_value_store_id;
    if (in.json != NULL)
        err = kvs_record_put(x.c, store, "INPUT", in.json, strlen(in.json), in.type);
    else if (in.fd >= 0)
        err = kvs_record_put_fd(x.c, store, "INPUT", in.fd, in.type);
    if (err != 0) {
        rc = kvs_cli_api_fail(x.c, err, "cannot store the input of run %s", x.run->id);
        if (kvs_run_finish(x.c, x.run->id, "FAILED", 0, 0, NULL) != 0)
            fprintf(stderr, "kvs: and the run could not be marked FAILED: %s\n",
                    kvs_client_errmsg(x.c));
        goto out;
    }
    if (install_handlers() != 0) {
        rc = kvs_cli_fail("cannot set up signal handling: %s", strerror(errno));
        (void)kvs_run_finish(x.c, x.run->id, "FAILED", 0, 0, NULL);
        goto out;
    }
    actor_env(&x, url);
    if (x.run->timeout_secs > 0)
        x.deadline_ms = kvs_mono_ms() + x.run->timeout_secs * 1000;
    int64_t started = kvs_mono_ms();
    rc = spawn(&x, argv + optind);
    if (rc != 0) {
        (void)kvs_run_finish(x.c, x.run->id, "FAILED", 1, 127, NULL);
        rc = 127; /* as a shell says of a command it cannot run */
        goto out;
    }
    int st = supervise(&x);
    int code = 0;
    const char *status = final_status(&x, st, &code);
    struct kvs_run_info *done = NULL;
    err = kvs_run_finish(x.c, x.run->id, status, 1, code, &done);
    if (err == KVS_EFINISHED) /* ended meanwhile (aborted twice): as it is */
        err = kvs_run_get(x.c, x.run->id, 0, &done);
    if (err == 0)
        report(&x, done, (double)(kvs_mono_ms() - started) / 1000.0);
    else
        kvs_cli_api_fail(x.c, err, "cannot mark run %s %s", x.run->id, status);
    kvs_free(done);
    rc = code;
out:
    if (in.fd >= 0)
        close(in.fd);
    kvs_free(x.run);
    kvs_client_close(x.poll);
    kvs_client_close(x.c);
    return rc;
}
