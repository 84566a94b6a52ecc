//! The table's definition: the one source of truth for its keys, index and TTL.
//! Tests create DynamoDB Local's table from it, and a test checks the SAM template
//! declares the same.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// The connections-by-party index.
pub const GSI1: &str = "gsi1";
/// Its partition key (`PARTY#agent#ana`).
pub const GSI1_PK: &str = "gsi1pk";
/// Its sort key (`CONN#<id>`).
pub const GSI1_SK: &str = "gsi1sk";
/// The TTL attribute: epoch seconds after which DynamoDB may delete the item (up to
/// two days late, so reads filter expired items themselves).
pub const TTL: &str = "ttl";

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("name and type are set")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

/// Creates the table (on-demand billing) with its index and TTL, as the SAM template
/// declares it. For DynamoDB Local and tests; deployments use the template.
pub async fn create(client: &Client, table: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    let index = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key(GSI1_PK, KeyType::Hash))
        .key_schema(key(GSI1_SK, KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("name, keys and projection are set");
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(PK))
        .attribute_definitions(string_attribute(SK))
        .attribute_definitions(string_attribute(GSI1_PK))
        .attribute_definitions(string_attribute(GSI1_SK))
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range))
        .global_secondary_indexes(index)
        // What the analytics read (docs/analytics.md): each write's old and new item.
        .stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
                .build()
                .expect("enabled and view type are set"),
        )
        .send()
        .await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL)
                .build()
                .expect("fields are set"),
        )
        .send()
        .await?;
    Ok(())
}
