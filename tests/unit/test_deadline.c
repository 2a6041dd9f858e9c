/* test_deadline.c — the header and first-byte deadlines' watchdog (src/server/deadline.c).
 *
 * Connections are socket pairs: the table gets one end, the test plays the client on the
 * other and sees a cut as end of file. Accept times are set in the past, so that deadlines
 * are due at once and the watchdog (four ticks a second) acts within a fraction of a second. */
#include <errno.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "server/deadline.h"
#include "test.h"

#define SEC 1000000000ull

/* 1 when the server's end of the pair was shut down (the client reads end of file), 0 when
 * it is still open. */
static int was_cut(int client)
{
    char b;
    ssize_t n = recv(client, &b, 1, MSG_DONTWAIT);
    return n == 0 ? 1 : (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ? 0 : -1;
}

/* Waits (at most 3 s) until the watchdog has cut WANT connections, then a few more ticks
 * so that a cut it should not make would have happened too. */
static void settle(struct kvs_deadlines *d, uint64_t want)
{
    for (int i = 0; i < 300 && kvs_deadlines_cut(d) < want; i++)
        usleep(10000);
    usleep(600000);
}

TEST(deadline_first_byte_spares_a_request_the_server_has_not_read)
{
    struct kvs_deadlines *d = kvs_deadlines_start(30, 1);
    ASSERT(d != NULL);
    int silent[2], waiting[2], late[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, silent), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, waiting), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, late), 0);
    /* the client sent its request; the server's threads have not read it yet. Sent before
     * the connection joins the table: the watchdog may cut it at once, and a client writing
     * to a cut socket would get SIGPIPE. */
    ASSERT_EQ(send(waiting[1], "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL), 16);
    ASSERT_EQ(send(late[1], "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL), 16);
    uint64_t now = kvs_mono_ns();
    /* accepted 2 s ago: the 1 s first-byte deadline is past for both */
    struct kvs_deadline_conn *cs = kvs_deadline_add(d, silent[0], now - 2 * SEC);
    struct kvs_deadline_conn *cw = kvs_deadline_add(d, waiting[0], now - 2 * SEC);
    /* accepted 40 s ago: past the 30 s header deadline as well */
    struct kvs_deadline_conn *cl = kvs_deadline_add(d, late[0], now - 40 * SEC);

    settle(d, 2);
    ASSERT_EQ(was_cut(silent[1]), 1);  /* sent nothing: cut */
    ASSERT_EQ(was_cut(waiting[1]), 0); /* in time; the server is late: kept */
    ASSERT_EQ(was_cut(late[1]), 1);    /* its headers are overdue too: cut */
    ASSERT_EQ(kvs_deadlines_cut(d), 2);

    /* the spared connection's request line comes in: nothing changes, no cut follows */
    kvs_deadline_line_in(cw);
    kvs_deadline_clear(cw);
    usleep(300000);
    ASSERT_EQ(was_cut(waiting[1]), 0);

    kvs_deadlines_stop(d);
    kvs_deadline_remove(d, cs);
    kvs_deadline_remove(d, cw);
    kvs_deadline_remove(d, cl);
    kvs_deadlines_free(d);
    for (int i = 0; i < 2; i++) {
        close(silent[i]);
        close(waiting[i]);
        close(late[i]);
    }
}

TEST(deadline_header_cuts_a_trickle_even_with_bytes_waiting)
{
    /* Only the first-byte deadline looks at unread bytes: a connection armed for its next
     * request (kvs_deadline_arm) whose headers are overdue is cut, unread bytes or not. */
    struct kvs_deadlines *d = kvs_deadlines_start(1, 0);
    ASSERT(d != NULL);
    int s[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    /* sent first, for the same reason as above: the deadline is already past */
    ASSERT_EQ(send(s[1], "G", 1, MSG_NOSIGNAL), 1);
    struct kvs_deadline_conn *c = kvs_deadline_add(d, s[0], kvs_mono_ns() - 2 * SEC);
    settle(d, 1);
    ASSERT_EQ(was_cut(s[1]), 1);
    ASSERT_EQ(kvs_deadlines_cut(d), 1);
    kvs_deadlines_stop(d);
    kvs_deadline_remove(d, c);
    kvs_deadlines_free(d);
    close(s[0]);
    close(s[1]);
}
