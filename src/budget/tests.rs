use super::*;
use crate::calendar::Date;

fn budgets(toml: &str) -> (Budgets, Arc<UserBudget>) {
    let text = format!(
        "[providers.p]\nbase_url = \"http://x\"\n[models.m]\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"up\"\n[users.u]\ntoken = \"t\"\n{toml}"
    );
    let config = crate::config::parse(&text, &|_| None).unwrap();
    let b = Budgets::new(None);
    let plan = b.registry.plans(&config).remove("u").unwrap();
    (b, plan)
}

fn noon(day: &str) -> i64 {
    Date::parse(day).unwrap().start_ms() + 12 * 3_600_000
}

#[tokio::test]
async fn reservations_never_pass_the_budget_and_settle_to_the_real_cost() {
    let (b, plan) = budgets("[users.u.budget]\nusd_per_day = 1.0\n");
    let now = noon("2026-12-03");
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..50 {
        match b.admit(plan.scopes("m"), window::nanos(0.1), now).await {
            Decision::Admitted(_, r) => held.push(r),
            Decision::Refused(v) => {
                assert_eq!(v.refusal.unwrap().status.span, Span::Day);
                refused += 1
            }
            _ => unreachable!(),
        }
    }
    assert_eq!((held.len(), refused), (10, 40));
    // Each really cost 0.04: settling gives 0.06 of each back.
    for r in held {
        r.finish(Some(0.04), true);
    }
    let v = b.peek(&plan.scopes("m"), now).await.unwrap();
    assert_eq!(v.tightest().unwrap().remaining, window::nanos(0.6));
}

#[tokio::test]
async fn a_new_day_starts_empty_but_the_month_remembers() {
    let (b, plan) = budgets("[users.u.budget]\nusd_per_day = 1.0\nusd_per_month = 1.5\n");
    let r = match b
        .admit(plan.scopes("m"), window::nanos(0.9), noon("2026-12-03"))
        .await
    {
        Decision::Admitted(_, r) => r,
        _ => panic!("admitted"),
    };
    drop(r);
    let next = noon("2026-12-04");
    assert!(matches!(
        b.admit(plan.scopes("m"), window::nanos(0.5), next).await,
        Decision::Admitted(..)
    ));
    match b.admit(plan.scopes("m"), window::nanos(0.2), next).await {
        Decision::Refused(v) => assert_eq!(v.refusal.unwrap().status.span, Span::Month),
        _ => panic!("the month has 0.1 left"),
    }
}

/// With the day and the month both full, the refusal names the month: the
/// day resetting first would not let the request through.
#[tokio::test]
async fn the_refusal_is_the_full_window_that_resets_last() {
    let (b, plan) = budgets("[users.u.budget]\nusd_per_day = 1.0\nusd_per_month = 1.0\n");
    let now = noon("2026-12-03");
    assert!(matches!(
        b.admit(plan.scopes("m"), window::nanos(1.0), now).await,
        Decision::Admitted(..)
    ));
    let Decision::Refused(v) = b.admit(plan.scopes("m"), 1, now).await else {
        panic!("both windows are full");
    };
    let r = v.refusal.unwrap();
    assert_eq!((r.status.span, r.remaining), (Span::Month, 0));
    let month_end = Date::parse("2027-01-01").unwrap().start_ms();
    assert_eq!(r.status.reset_ms, (month_end - now) as u64);
}

#[tokio::test]
async fn rebuilt_windows_hold_the_ledger_spend_per_model() {
    let (b, plan) = budgets(
        "[users.u.budget]\nusd_per_month = 10.0\n[users.u.budget.models.m]\nusd_per_day = 2.0\n",
    );
    let now = noon("2026-12-03");
    let row = |user: &str, model: &str, day: &str, cost_usd| crate::ledger::Spend {
        user: user.into(),
        model: model.into(),
        day: day.into(),
        cost_usd,
    };
    let spend = vec![
        row("u", "m", "2026-12-03", 1.5),
        row("u", "m", "2026-12-01", 4.0),
        row("u", "other", "2026-12-02", 3.0),
        row("v", "m", "2026-12-03", 9.0),
    ];
    b.rebuild(std::slice::from_ref(&plan), &spend, now).await;
    let v = b.peek(&plan.scopes("m"), now).await.unwrap();
    let left: Vec<(Span, u64)> = v.statuses.iter().map(|s| (s.span, s.remaining)).collect();
    assert_eq!(
        left,
        vec![
            (Span::Month, window::nanos(1.5)),
            (Span::Day, window::nanos(0.5))
        ]
    );
}

#[test]
fn the_reservation_covers_the_longest_answer_at_the_dearest_backend() {
    let c = Ceiling {
        input: 2.0,
        output: 8.0,
        per_request: 0.0,
        max_output_tokens: Some(1000),
    };
    assert_eq!(
        c.reserve(500, None),
        window::nanos((500.0 * 2.0 + 1000.0 * 8.0) / 1e6)
    );
    assert_eq!(
        c.reserve(500, Some(10)),
        window::nanos((500.0 * 2.0 + 10.0 * 8.0) / 1e6)
    );
}
