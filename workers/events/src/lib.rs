//! Edge Worker `events`: the queue hop between the edge and the core (DESIGN §5). Entry points
//! only hand off: queued events go to Spin as signed webhooks, the cron asks Spin to sweep.

mod deliver;
mod spin;

use worker::{Context, Env, MessageBatch, Result, ScheduleContext, ScheduledEvent, event};

/// Bodies stay raw: each is forwarded as the exact JSON the producer queued.
#[event(queue)]
async fn queue(batch: MessageBatch<()>, env: Env, _ctx: Context) -> Result<()> {
    deliver::batch(&batch, &env).await;
    Ok(())
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    deliver::sweep(&env).await;
}
