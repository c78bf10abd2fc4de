"""Demo data modelled on the two seeds: a populated directory for a newcomer; idempotent.

Every demo record has a fixed id, so a second run finds what the first made and adds only
what is missing (a registration, a verification, an activity).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.registry import handlers
from services.registry.commands import AnnounceActivity, RegisterActor, VerifyActor
from services.registry.corporate_number import with_check_digit
from services.registry.domain import Actor, ActorStatus
from services.registry.events import actor_stream
from services.registry.handlers import ACTOR
from shared.errors import ConcurrencyError
from shared.events import EventActor
from shared.eventstore.store import AppendContext, EventStore
from shared.handling import load
from shared.service import ServiceContext

DEMO_NAMESPACE = uuid.UUID("6b796f64-6f2d-4465-8d6f-2d7265676973")
DEMO_ACTOR = EventActor(subject="demo-data", role="system")
TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class DemoActivity:
    slug: str
    kind: str
    title: str
    fields: tuple[str, ...]
    in_days: int
    venue: str
    lasts_days: int = 0
    description: str | None = None


@dataclass(frozen=True)
class DemoActor:
    slug: str
    profile: dict[str, Any]
    verified: bool = True
    activities: tuple[DemoActivity, ...] = field(default_factory=tuple)


@dataclass
class DemoSummary:
    registered: int = 0
    verified: int = 0
    announced: int = 0


def _person(name: str, kana: str, title: str, email: str) -> dict[str, Any]:
    return {
        "representative": {"name": name, "name_kana": kana, "title": title},
        "contact": {"email": email, "phone": "03-0000-0000"},
    }


NERIMA = (
    DemoActor(
        "hikarigaoka-chokai",
        {
            "kind": "neighbourhood_association",
            "name": "光が丘第一町会",
            "name_kana": "ひかりがおかだいいちちょうかい",
            "fields": ["safety", "community_development", "welfare"],
            "area": "光が丘",
            "description": "防災訓練、防犯パトロール、高齢者の見守り、夏祭りを行う町会です。",
            "personal": _person("田中 一郎", "タナカ イチロウ", "会長", "hikari@example.jp"),
        },
        activities=(
            DemoActivity(
                "bosai-kunren", "event", "秋の地域防災訓練", ("safety",), 21, "光が丘公園"
            ),
        ),
    ),
    DemoActor(
        "kosodate-net",
        {
            "kind": "npo_corporation",
            "name": "NPO法人 ねりま子育てネットワーク",
            "name_kana": "ねりまこそだてねっとわーく",
            "fields": ["childcare", "youth"],
            "area": "石神井",
            "description": "子育てひろばの運営と、子育て中の親の交流・相談の場づくりをしています。",
            "corporate_number": with_check_digit("011105000101"),
            "website": "https://kosodate.example.jp",
            "personal": _person("山本 由美", "ヤマモト ユミ", "理事長", "kosodate@example.jp"),
        },
        activities=(
            DemoActivity(
                "ehon-kouza",
                "course",
                "親子で楽しむ絵本講座（全4回）",
                ("childcare",),
                10,
                "石神井公園区民交流センター",
                lasts_days=21,
            ),
        ),
    ),
    DemoActor(
        "shakujii-midori",
        {
            "kind": "voluntary_group",
            "name": "石神井公園みどりのボランティア",
            "name_kana": "しゃくじいこうえんみどりのぼらんてぃあ",
            "fields": ["environment"],
            "area": "石神井公園",
            "description": "公園の落ち葉清掃と水辺の生きもの観察会を続ける団体です。",
            "personal": _person("小林 健", "コバヤシ ケン", "代表", "midori@example.jp"),
        },
        activities=(
            DemoActivity(
                "ochiba", "event", "落ち葉清掃と堆肥づくり", ("environment",), 14, "石神井公園"
            ),
        ),
    ),
    DemoActor(
        "oizumi-shotenkai",
        {
            "kind": "business",
            "name": "大泉学園商店会",
            "name_kana": "おおいずみがくえんしょうてんかい",
            "fields": ["local_economy", "community_development"],
            "area": "大泉学園",
            "description": "商店街のにぎわいづくりと、練馬野菜の朝市を開いています。",
            "personal": _person("斎藤 誠", "サイトウ マコト", "会長", "oizumi@example.jp"),
        },
        activities=(
            DemoActivity(
                "asaichi", "event", "練馬野菜の朝市", ("local_economy",), 7, "大泉学園駅北口"
            ),
        ),
    ),
    DemoActor(
        "midorigaoka-koko",
        {
            "kind": "education_research",
            "name": "ねりま緑ヶ丘高等学校 地域連携部",
            "name_kana": "ねりまみどりがおかこうとうがっこう ちいきれんけいぶ",
            "fields": ["youth", "lifelong_learning"],
            "area": "練馬",
            "description": "生徒が地域の高齢者向けにスマートフォン教室を開いています。",
            "personal": _person("中村 京子", "ナカムラ キョウコ", "顧問", "school@example.jp"),
        },
    ),
    DemoActor(
        "kokusai-kyokai",
        {
            "kind": "public_interest",
            "name": "公益財団法人 ねりま国際交流協会",
            "name_kana": "ねりまこくさいこうりゅうきょうかい",
            "fields": ["culture_international"],
            "area": "練馬",
            "corporate_number": with_check_digit("011105000202"),
            "description": "外国人区民のための日本語教室と多文化交流イベントを運営しています。",
        },
        activities=(
            DemoActivity(
                "nihongo",
                "course",
                "やさしい日本語教室（春期）",
                ("culture_international",),
                30,
                "練馬区役所 区民協働交流センター",
                lasts_days=60,
            ),
        ),
    ),
    DemoActor(
        "kodomo-shokudo",
        {
            "kind": "voluntary_group",
            "name": "北町こども食堂の会",
            "name_kana": "きたまちこどもしょくどうのかい",
            "fields": ["childcare", "welfare"],
            "area": "北町",
            "description": "月2回、地域の子どもと高齢者が一緒に食べる食堂を開いています。",
            "personal": _person("伊藤 さくら", "イトウ サクラ", "代表", "kitamachi@example.jp"),
        },
        verified=False,
    ),
)

OTA = (
    DemoActor(
        "kamata-jichikai",
        {
            "kind": "civic_group",
            "name": "蒲田東地区自治会連合会",
            "name_kana": "かまたひがしちくじちかいれんごうかい",
            "fields": ["community_safety", "disaster_relief"],
            "area": "蒲田",
            "description": "地区内の町会・自治会が連携し、防災と防犯の活動をしています。",
            "personal": _person("高橋 茂", "タカハシ シゲル", "会長", "kamata@example.jp"),
        },
        activities=(
            DemoActivity(
                "bosai", "event", "蒲田東地区 合同防災訓練", ("disaster_relief",), 18, "蒲田小学校"
            ),
        ),
    ),
    DemoActor(
        "kodomo-shokudo-net",
        {
            "kind": "civic_group",
            "name": "NPO法人 おおた子ども食堂ネット",
            "name_kana": "おおたこどもしょくどうねっと",
            "fields": ["children", "health_welfare"],
            "area": "大森",
            "corporate_number": with_check_digit("010801000303"),
            "description": "区内の子ども食堂をつなぎ、食材の融通とボランティアの養成をしています。",
            "personal": _person("渡辺 智子", "ワタナベ トモコ", "理事長", "shokudo@example.jp"),
        },
        activities=(
            DemoActivity(
                "yosei",
                "course",
                "子ども食堂ボランティア養成講座",
                ("children",),
                12,
                "大森地域力応援センター",
                lasts_days=14,
            ),
        ),
    ),
    DemoActor(
        "tamagawa-clean",
        {
            "kind": "civic_group",
            "name": "多摩川河川敷クリーンアップの会",
            "name_kana": "たまがわかせんじきくりーんあっぷのかい",
            "fields": ["environment"],
            "area": "田園調布",
            "description": "毎月第2日曜日に多摩川の河川敷を清掃しています。",
            "personal": _person("佐々木 亮", "ササキ リョウ", "代表", "tamagawa@example.jp"),
        },
        activities=(
            DemoActivity(
                "clean", "event", "多摩川河川敷クリーンアップ", ("environment",), 9, "丸子橋付近"
            ),
        ),
    ),
    DemoActor(
        "ota-seimitsu",
        {
            "kind": "business",
            "name": "株式会社 大田精密工業",
            "name_kana": "おおたせいみつこうぎょう",
            "fields": ["science_technology", "children", "economic_activity"],
            "area": "下丸子",
            "corporate_number": with_check_digit("010801000404"),
            "description": "町工場の技術を生かして、子ども向けのものづくり体験教室を開いています。",
            "personal": _person("松本 博", "マツモト ヒロシ", "代表取締役", "seimitsu@example.jp"),
        },
        activities=(
            DemoActivity(
                "monozukuri",
                "event",
                "町工場ものづくり体験教室",
                ("science_technology", "children"),
                25,
                "下丸子 工場見学スペース",
            ),
        ),
    ),
    DemoActor(
        "haneda-kokusai",
        {
            "kind": "civic_group",
            "name": "羽田国際交流ボランティア",
            "name_kana": "はねだこくさいこうりゅうぼらんてぃあ",
            "fields": ["international_cooperation", "tourism"],
            "area": "羽田",
            "description": "空港のまち羽田で、訪日客の道案内と多言語の観光案内をしています。",
        },
    ),
    DemoActor(
        "ikegami-machizukuri",
        {
            "kind": "civic_group",
            "name": "池上まちづくり協議会",
            "name_kana": "いけがみまちづくりきょうぎかい",
            "fields": ["community_development", "tourism"],
            "area": "池上",
            "description": "池上本門寺の門前町らしい景観づくりに取り組んでいます。",
            "personal": _person("井上 正", "イノウエ タダシ", "会長", "ikegami@example.jp"),
        },
        verified=False,
    ),
)

DEMO_ACTORS: dict[str, tuple[DemoActor, ...]] = {"nerima": NERIMA, "ota": OTA}


def demo_id(ward: str, *slugs: str) -> str:
    return str(uuid.uuid5(DEMO_NAMESPACE, "/".join((ward, *slugs))))


async def seed_demo_data(ctx: ServiceContext) -> DemoSummary:
    """Register, verify and announce the demo records of the built-in wards that are onboarded."""
    today = ctx.clock().astimezone(TOKYO).date()
    return await seed_demo_actors(ctx.store, today)


async def seed_demo_actors(store: EventStore, today: date) -> DemoSummary:
    summary = DemoSummary()
    for ward, actors in DEMO_ACTORS.items():
        for demo in actors:
            try:
                await _seed_actor(store, ward, demo, today, summary)
            except ConcurrencyError:
                continue  # another instance is seeding the same record; the next run completes it
    return summary


async def _seed_actor(
    store: EventStore, ward: str, demo: DemoActor, today: date, summary: DemoSummary
) -> None:
    context = AppendContext(ward, DEMO_ACTOR)
    actor_id = demo_id(ward, demo.slug)
    actor = (await load(store, ACTOR, actor_stream(actor_id))).state
    if actor is None:
        command = RegisterActor(ward=ward, actor_id=actor_id, **demo.profile)
        actor = (await handlers.register_actor(store, command, context, by_staff=True)).state
        summary.registered += 1
    assert actor is not None
    if demo.verified and actor.status is ActorStatus.PENDING:
        verify = VerifyActor(ward=ward, actor_id=actor_id, note="デモデータ")
        actor = (await handlers.verify_actor(store, verify, context)).state
        summary.verified += 1
    assert actor is not None
    for activity in demo.activities:
        if await _announce(store, ward, actor, activity, today, context):
            summary.announced += 1


async def _announce(
    store: EventStore,
    ward: str,
    actor: Actor,
    activity: DemoActivity,
    today: date,
    context: AppendContext,
) -> bool:
    activity_id = demo_id(ward, actor.actor_id, activity.slug)
    if activity_id in actor.activity_ids or actor.status is not ActorStatus.ACTIVE:
        return False
    starts_on = today + timedelta(days=activity.in_days)
    command = AnnounceActivity(
        ward=ward,
        activity_id=activity_id,
        actor_id=actor.actor_id,
        kind=activity.kind,
        title=activity.title,
        description=activity.description,
        fields=list(activity.fields),
        starts_on=starts_on,
        ends_on=starts_on + timedelta(days=activity.lasts_days) if activity.lasts_days else None,
        venue=activity.venue,
    )
    await handlers.announce_activity(store, command, context)
    return True
