/* job.cc: threadpool jobs (see job.h). */
#include "job.h"

static void job_work(uv_work_t *w) {
  job *j = (job *)w;
  j->work(j);
}

static void job_after(uv_work_t *w, int status) {
  job *j = (job *)w;
  j->done(j, status == UV_ECANCELED);
}

int job_submit(uv_loop_t *loop, job *j, job_work_fn work, job_done_fn done) {
  j->work = work;
  j->done = done;
  return uv_queue_work(loop, &j->req, job_work, job_after);
}
