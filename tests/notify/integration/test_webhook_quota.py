"""An owner's webhook quota under subscriptions created at once: the last free place goes to one of them, the others
are told TOO_MANY_WEBHOOKS (409), and the owner never holds more than the quota."""

import asyncio

from .test_webhooks import CANCELLED, Hooks, run_id


async def _listed(notify, headers) -> list[str]:
    r = await notify.client.get("/v1/webhooks", headers=headers, params={"limit": 200})
    assert r.status_code == 200, r.text
    return [w["webhook_id"] for w in r.json()["items"]]


async def test_the_last_free_place_of_an_owner_goes_to_one_of_several_subscriptions_created_at_once(notify, receiver):
    quota = notify.settings.webhook_max_per_owner
    # Three owners, each one place short of the quota, each asking for 8 more at once (all 24 at the same moment).
    owners = [Hooks(notify) for _ in range(3)]
    try:
        await asyncio.gather(
            *(o.subscribe(receiver.url("quota-" + run_id()), [CANCELLED]) for o in owners for _ in range(quota - 1))
        )
        racing = [
            (o, {"url": receiver.url(f"quota-race-{n}-" + run_id()), "event_types": [CANCELLED]})
            for o in owners
            for n in range(8)
        ]
        answers = await asyncio.gather(
            *(notify.client.post("/v1/webhooks", headers=o.partner, json=body) for o, body in racing)
        )
        for (owner, _), r in zip(racing, answers, strict=True):
            if r.status_code == 201:
                owner.created.append((owner.partner, r.json()["webhook_id"]))
        for n, owner in enumerate(owners):
            mine = answers[n * 8 : (n + 1) * 8]
            assert sorted(r.status_code for r in mine) == [201] + [409] * 7, [r.text for r in mine]
            assert {r.json()["error"]["code"] for r in mine if r.status_code == 409} == {"TOO_MANY_WEBHOOKS"}
            listed = await _listed(notify, owner.partner)
            assert len(listed) == quota and sorted(listed) == sorted(w for _, w in owner.created)
    finally:
        for owner in owners:
            await owner.cleanup()
