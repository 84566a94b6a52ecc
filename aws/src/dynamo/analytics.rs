//! The analytics port on DynamoDB (docs/data-model.md, "Analytics"):
//!
//! - a conversation's sheet: `CONV#<conversation>` / `SHEET`, `sheet` and `version`;
//! - the counters: `STATS#<yyyy-mm>#<shard>` / `<dd>#<bucket>`, one number attribute
//!   per count (a mean as `<name>_sum` and `<name>_count`), added to with `ADD`.
//!   Every conversation's deltas go to its shard ([`shard_of`]), so that no
//!   partition takes more than a tenth of the writes; a report sums the shards;
//! - the zones seen in force: `ANALYTICS` / `ZONES`, a list of `{at, zone}`.
//!
//! A sheet is written with its counters' deltas in one transaction, under the
//! sheet's version: the counters move exactly when the sheet does.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use jiff::Timestamp;
use livechat_core::analytics::{Bucket, Counters, Day, Sheet, Table};
use livechat_core::domain::{AgentId, ConversationId, DialogId, TeamId, TimeZoneName};
use livechat_core::ports::{AnalyticsStore, CasOutcome, StoreError, StoreResult};
use livechat_core::shards::{LIST_SHARDS, shard_of};
use serde::{Deserialize, Serialize};

use super::{DynamoStore, Item, conv_pk, corrupt, from_item, key, n, s, to_item, transact};

/// Daily counters are kept 25 months (24 months of reports, and the month
/// being counted).
const COUNTERS_KEPT_DAYS: i64 = 25 * 31;

#[derive(Serialize, Deserialize)]
struct SheetItem {
    pk: String,
    sk: String,
    version: u64,
    sheet: Sheet,
    /// Deleted as long after its last write as the counters are kept: by then
    /// every day it counted into is gone too. (Sheets written before had none.)
    #[serde(default)]
    ttl: i64,
}

const SHEET: &str = "SHEET";

/// The counters' partition of `day`'s month, shard `shard`.
fn stats_pk(day: Day, shard: u32) -> String {
    format!("STATS#{:04}-{:02}#{shard:02}", day.0.year(), day.0.month())
}

/// A bucket as a sort key part: ids never hold `#`.
fn bucket_key(bucket: &Bucket) -> String {
    match bucket {
        Bucket::All => "all".into(),
        Bucket::Dialog(d) => format!("dialog#{d}"),
        Bucket::Team(t) => format!("team#{}", t.as_ref().map_or("", |t| t.as_str())),
        Bucket::Agent(a) => format!("agent#{}", a.as_ref().map_or("", |a| a.as_str())),
    }
}

fn parse_bucket(raw: &str) -> Option<Bucket> {
    let (kind, value) = raw.split_once('#').unwrap_or((raw, ""));
    Some(match kind {
        "all" => Bucket::All,
        "dialog" => Bucket::Dialog(DialogId::parse(value).ok()?),
        "team" if value.is_empty() => Bucket::Team(None),
        "team" => Bucket::Team(Some(TeamId::parse(value).ok()?)),
        "agent" if value.is_empty() => Bucket::Agent(None),
        "agent" => Bucket::Agent(Some(AgentId::parse(value).ok()?)),
        _ => return None,
    })
}

/// The counters as flat numbers: `ADD` works on top-level attributes only.
fn flat(counters: &Counters) -> StoreResult<Vec<(String, i64)>> {
    let json = serde_json::to_value(counters).map_err(|e| corrupt("counters", e))?;
    let mut out = Vec::new();
    for (name, value) in json.as_object().into_iter().flatten() {
        match value {
            serde_json::Value::Object(mean) => {
                for (part, v) in mean {
                    out.push((format!("{name}_{part}"), v.as_i64().unwrap_or(0)));
                }
            }
            v => out.push((name.clone(), v.as_i64().unwrap_or(0))),
        }
    }
    Ok(out)
}

/// [`flat`] read back from a counters item.
fn unflat(item: &Item) -> StoreResult<Counters> {
    let number = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let template = serde_json::to_value(Counters::default()).map_err(|e| corrupt("counters", e))?;
    let mut json = serde_json::Map::new();
    for (name, value) in template.as_object().into_iter().flatten() {
        let v = match value {
            serde_json::Value::Object(mean) => serde_json::Value::Object(
                mean.keys()
                    .map(|part| (part.clone(), number(&format!("{name}_{part}")).into()))
                    .collect(),
            ),
            _ => number(name).into(),
        };
        json.insert(name.clone(), v);
    }
    serde_json::from_value(serde_json::Value::Object(json)).map_err(|e| corrupt("counters", e))
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

#[async_trait]
impl AnalyticsStore for DynamoStore {
    async fn sheet(&self, conversation: &ConversationId) -> StoreResult<(Sheet, u64)> {
        let item = self.get(key(conv_pk(conversation), SHEET)).await?;
        Ok(match item {
            Some(item) => {
                let stored: SheetItem = from_item(item)?;
                (stored.sheet, stored.version)
            }
            None => (Sheet::default(), 0),
        })
    }

    async fn save_sheet(
        &self,
        conversation: &ConversationId,
        sheet: &Sheet,
        version: u64,
        deltas: &[(Day, Bucket, Counters)],
    ) -> StoreResult<CasOutcome> {
        let item = SheetItem {
            pk: conv_pk(conversation),
            sk: SHEET.into(),
            version: version + 1,
            sheet: sheet.clone(),
            ttl: jiff::Timestamp::now().as_second() + COUNTERS_KEPT_DAYS * 86_400,
        };
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?));
        put = if version == 0 {
            put.condition_expression("attribute_not_exists(version)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", n(version))
        };
        let mut request = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .put(put.build().map_err(unavailable)?)
                .build(),
        );
        let shard = shard_of(conversation);
        for (day, bucket, counters) in deltas {
            let fields = flat(counters)?;
            let mut update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(stats_pk(*day, shard)))
                .key(
                    "sk",
                    s(format!("{:02}#{}", day.0.day(), bucket_key(bucket))),
                );
            let mut adds = Vec::new();
            for (i, (name, value)) in fields.iter().enumerate() {
                if *value != 0 {
                    adds.push(format!("#f{i} :f{i}"));
                    update = update
                        .expression_attribute_names(format!("#f{i}"), name)
                        .expression_attribute_values(format!(":f{i}"), n(*value));
                }
            }
            if adds.is_empty() {
                continue;
            }
            let expires = day
                .0
                .checked_add(jiff::Span::new().days(COUNTERS_KEPT_DAYS))
                .ok()
                .and_then(|d| {
                    jiff::tz::TimeZone::UTC
                        .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                        .ok()
                })
                .map_or(0, |t| t.as_second());
            let update = update
                .update_expression(format!("ADD {} SET #ttl = :ttl", adds.join(", ")))
                .expression_attribute_names("#ttl", super::table::TTL)
                .expression_attribute_values(":ttl", n(expires))
                .build()
                .map_err(unavailable)?;
            request = request.transact_items(TransactWriteItem::builder().update(update).build());
        }
        Ok(match transact(request).await? {
            None => CasOutcome::Written,
            Some(_) => CasOutcome::Conflict,
        })
    }

    async fn counters(&self, from: Day, to: Day) -> StoreResult<Table> {
        let mut table = Table::default();
        // Each month of the range, each shard: one Query (paged).
        let mut month = from.0.first_of_month();
        let mut queries = Vec::new();
        while month <= to.0 {
            let (lo, hi) = (
                if month.year() == from.0.year() && month.month() == from.0.month() {
                    from.0.day()
                } else {
                    1
                },
                if month.year() == to.0.year() && month.month() == to.0.month() {
                    to.0.day()
                } else {
                    31
                },
            );
            for shard in 0..LIST_SHARDS {
                queries.push((Day(month), shard, lo, hi));
            }
            month = match month.checked_add(jiff::Span::new().months(1)) {
                Ok(next) => next,
                Err(_) => break,
            };
        }
        let pages = queries
            .into_iter()
            .map(|(month, shard, lo, hi)| self.stats_query(month, shard, lo, hi));
        for page in futures_util::future::join_all(pages).await {
            for (day, bucket, counters) in page? {
                table.add(day, bucket, &counters, 1);
            }
        }
        Ok(table)
    }

    async fn zone_changes(&self) -> StoreResult<Vec<(Timestamp, TimeZoneName)>> {
        let Some(item) = self.get(key("ANALYTICS".into(), "ZONES")).await? else {
            return Ok(Vec::new());
        };
        let changes: Vec<ZoneChange> = item
            .get("changes")
            .cloned()
            .map(serde_dynamo::from_attribute_value)
            .transpose()
            .map_err(|e| corrupt("ANALYTICS/ZONES", e))?
            .unwrap_or_default();
        Ok(changes.into_iter().map(|c| (c.at, c.zone)).collect())
    }

    async fn add_zone_change(&self, at: Timestamp, zone: &TimeZoneName) -> StoreResult<()> {
        let change = serde_dynamo::to_attribute_value(vec![ZoneChange {
            at,
            zone: zone.clone(),
        }])
        .map_err(|e| corrupt("ANALYTICS/ZONES", e))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key("ANALYTICS".into(), "ZONES")))
            .update_expression("SET changes = list_append(if_not_exists(changes, :none), :c)")
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":c", change)
            .send()
            .await
            .map_err(super::failed)?;
        Ok(())
    }

    async fn put_live(&self, entry: &livechat_core::analytics::live::LiveEntry) -> StoreResult<()> {
        self.put_live_item(entry).await
    }

    async fn remove_live(&self, conversation: &ConversationId) -> StoreResult<()> {
        self.remove_live_item(conversation).await
    }

    async fn watch_live(
        &self,
        connection: &livechat_core::domain::ConnectionId,
        until: Timestamp,
    ) -> StoreResult<()> {
        self.watch_live_item(connection, until).await
    }

    async fn live_watchers(
        &self,
        now: Timestamp,
    ) -> StoreResult<Vec<livechat_core::domain::ConnectionId>> {
        self.live_watcher_items(now).await
    }

    async fn live_entries(
        &self,
        now: Timestamp,
    ) -> StoreResult<Vec<livechat_core::analytics::live::LiveEntry>> {
        self.live_items(now).await
    }
}

#[derive(Serialize, Deserialize)]
struct ZoneChange {
    at: Timestamp,
    zone: TimeZoneName,
}

impl DynamoStore {
    /// The counters of `month`'s shard `shard`, days `lo` to `hi`.
    async fn stats_query(
        &self,
        month: Day,
        shard: u32,
        lo: i8,
        hi: i8,
    ) -> StoreResult<Vec<(Day, Bucket, Counters)>> {
        let pk = stats_pk(month, shard);
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":lo", s(format!("{lo:02}#")))
            .expression_attribute_values(":hi", s(format!("{hi:02}#~")))
            .consistent_read(true);
        let mut out = Vec::new();
        for item in super::query_all(query).await? {
            let sk = item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .ok_or_else(|| corrupt(&pk, "a counters item without sk"))?;
            let (dd, bucket) = sk
                .split_once('#')
                .ok_or_else(|| corrupt(&pk, format!("counters sort key {sk}")))?;
            let day = dd
                .parse::<i8>()
                .ok()
                .and_then(|d| month.0.with().day(d).build().ok())
                .ok_or_else(|| corrupt(&pk, format!("counters sort key {sk}")))?;
            let bucket =
                parse_bucket(bucket).ok_or_else(|| corrupt(&pk, format!("bucket {bucket}")))?;
            out.push((Day(day), bucket, unflat(&item)?));
        }
        Ok(out)
    }
}
