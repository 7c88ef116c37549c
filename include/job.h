/* job.h: the one way hookd runs work on the libuv threadpool.
 *
 * A job is a plain struct embedded first in the caller's struct. job_submit
 * checks uv_queue_work's result (on failure nothing runs and no callback is
 * called: the caller answers at once), and the after-work side turns libuv's
 * status into `cancelled`, so every completion handles UV_ECANCELED in one
 * place. `work` runs on a worker thread and must touch only the job's own
 * struct; `done` runs on the loop thread. */
#ifndef HOOKD_JOB_H
#define HOOKD_JOB_H

#include <uv.h>

struct job;
typedef void (*job_work_fn)(job *j);
/* cancelled: 1 when libuv cancelled the job before `work` ran. */
typedef void (*job_done_fn)(job *j, int cancelled);

struct job {
  uv_work_t req; /* must stay first */
  job_work_fn work;
  job_done_fn done;
};

/* Queues j. Returns 0, or a libuv error (then neither callback runs). */
int job_submit(uv_loop_t *loop, job *j, job_work_fn work, job_done_fn done);

#endif
