/* cli.h: the commands that do not run the daemon (src/cli.cc). */
#ifndef HOOKD_CLI_H
#define HOOKD_CLI_H

/* Runs the command argv[1] names (--help, --version, --sign,
 * --healthcheck). Returns its exit code, or -1 when there is no argument
 * (run the daemon). */
int cli_run(int argc, char **argv);

#endif
