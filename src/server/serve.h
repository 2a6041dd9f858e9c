/* serve.h — `kvs serve`: options, start-up (first user), signals, orderly shutdown. */
#ifndef KVS_SERVER_SERVE_H
#define KVS_SERVER_SERVE_H

/* Run the server with the command-line ARGV (ARGV[0] is "serve"). Returns the process exit
 * status: 0 after a clean shutdown on SIGTERM/SIGINT, 0 for --help, 2 for bad options, 1 when
 * the server cannot start. */
int kvs_serve_main(int argc, char **argv);

#endif
