//! Edge Worker `events`: the hops between the edge and the core (DESIGN §5). Entry points only hand
//! off: queued events go to Spin as signed webhooks, the core's signed outbox deliveries are
//! received and dispatched, and the cron asks every Spin outbox to sweep.

mod cart;
mod catalog;
mod deliver;
mod receive;
mod spin;

use worker::{Context, Env, MessageBatch, Request, Response, Result, ScheduleContext, ScheduledEvent, event};

/// Bodies stay raw: each is forwarded as the exact JSON the producer queued.
#[event(queue)]
async fn queue(batch: MessageBatch<()>, env: Env, _ctx: Context) -> Result<()> {
    deliver::batch(&batch, &env).await;
    Ok(())
}

/// The core's outbox deliveries, through the gateway's `EVENTS` binding.
#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: Context) -> Result<Response> {
    receive::handle(request, env).await
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    deliver::sweep(&env).await;
}
