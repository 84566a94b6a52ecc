//! The store conformance suite on the in-memory store.

use std::sync::Arc;

use livechat_core::memory::MemoryStore;
use livechat_tests::conformance as suite;
use livechat_tests::queue_conformance as queue_suite;

#[tokio::test]
async fn dialogs_round_trip_in_order_and_a_removed_one_is_gone() {
    suite::dialogs_round_trip_in_order_and_a_removed_one_is_gone(&MemoryStore::new()).await;
}

#[tokio::test]
async fn directory_round_trips_and_keeps_toggles_across_edits() {
    suite::directory_round_trips_and_keeps_toggles_across_edits(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conversations_are_written_by_compare_and_set() {
    suite::conversations_are_written_by_compare_and_set(&MemoryStore::new()).await;
}

#[tokio::test]
async fn a_resend_is_recognised_within_its_sides_recent_messages() {
    suite::a_resend_is_recognised_within_its_sides_recent_messages(&MemoryStore::new()).await;
}

#[tokio::test]
async fn analytics_sheets_move_with_their_counters() {
    suite::analytics_sheets_move_with_their_counters(&MemoryStore::new()).await;
}

#[tokio::test]
async fn live_entries_follow_their_conversations_across_shards() {
    suite::live_entries_follow_their_conversations_across_shards(&MemoryStore::new()).await;
}

#[tokio::test]
async fn messages_are_stored_once_per_id_in_sequence() {
    suite::messages_are_stored_once_per_id_in_sequence(&MemoryStore::new()).await;
}

#[tokio::test]
async fn the_hub_tracks_subscribers_and_refuses_stale_appends() {
    suite::the_hub_tracks_subscribers_and_refuses_stale_appends(&MemoryStore::new()).await;
}

#[tokio::test]
async fn connections_expire_on_read_and_are_found_by_party() {
    suite::connections_expire_on_read_and_are_found_by_party(&MemoryStore::new()).await;
}

#[tokio::test]
async fn presence_counts_every_connection_made_and_never_goes_down() {
    suite::presence_counts_every_connection_made_and_never_goes_down(&MemoryStore::new()).await;
}

#[tokio::test]
async fn turn_tickets_are_numbered_per_pool_and_read_with_the_cursor() {
    suite::turn_tickets_are_numbered_per_pool_and_read_with_the_cursor(&MemoryStore::new()).await;
}

#[tokio::test]
async fn agents_keep_their_canned_responses_across_a_new_directory() {
    suite::agents_keep_their_canned_responses_across_a_new_directory(&MemoryStore::new()).await;
}

#[tokio::test]
async fn notes_are_stored_once_per_id_apart_from_the_messages() {
    suite::notes_are_stored_once_per_id_apart_from_the_messages(&MemoryStore::new()).await;
}

#[tokio::test]
async fn routing_traces_are_kept_with_their_decisions() {
    suite::routing_traces_are_kept_with_their_decisions(&MemoryStore::new()).await;
}

#[tokio::test]
async fn an_offer_claim_is_all_or_nothing() {
    suite::an_offer_claim_is_all_or_nothing(&MemoryStore::new()).await;
}

#[tokio::test]
async fn past_chats_are_listed_per_agent_and_for_the_account() {
    suite::past_chats_are_listed_per_agent_and_for_the_account(&MemoryStore::new()).await;
}

#[tokio::test]
async fn the_missed_list_is_newest_first_and_cleared_when_taken() {
    suite::the_missed_list_is_newest_first_and_cleared_when_taken(&MemoryStore::new()).await;
}

#[tokio::test]
async fn the_missed_list_pages_from_a_cursor_without_gaps_or_repeats() {
    suite::the_missed_list_pages_from_a_cursor_without_gaps_or_repeats(&MemoryStore::new()).await;
}

#[tokio::test]
async fn sessions_round_trip() {
    suite::sessions_round_trip(&MemoryStore::new()).await;
}

#[tokio::test]
async fn round_robin_follows_the_documented_sequence() {
    suite::round_robin_follows_the_documented_sequence(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_requests_are_assigned_once_and_evenly() {
    let store = Arc::new(MemoryStore::new().interleaving());
    suite::simultaneous_requests_are_assigned_once_and_evenly(store, 500, 32).await;
}

#[tokio::test]
async fn rate_counters_ride_on_the_message_write() {
    suite::rate_counters_ride_on_the_message_write(&MemoryStore::new()).await;
}

#[tokio::test]
async fn rate_counters_count_to_their_limit_per_window() {
    suite::rate_counters_count_to_their_limit_per_window(&MemoryStore::new()).await;
}

#[tokio::test]
async fn sharded_lists_page_in_order_without_gaps_or_repeats() {
    suite::sharded_lists_page_in_order_without_gaps_or_repeats(&MemoryStore::new()).await;
}

#[tokio::test]
async fn sharded_lists_spread_their_writes() {
    let store = MemoryStore::new();
    suite::sharded_lists_spread_their_writes(&store, &|| store.list_writes()).await;
}

#[tokio::test]
async fn batched_reads_find_what_exists() {
    suite::batched_reads_find_what_exists(&MemoryStore::new()).await;
}

#[tokio::test]
async fn queue_entries_are_one_per_conversation_first_ticket_first() {
    queue_suite::queue_entries_are_one_per_conversation_first_ticket_first(&MemoryStore::new())
        .await;
}

#[tokio::test]
async fn concurrent_enqueues_leave_one_entry_per_conversation() {
    queue_suite::concurrent_enqueues_leave_one_entry_per_conversation(
        &MemoryStore::new().interleaving(),
    )
    .await;
}

#[tokio::test]
async fn chat_lengths_add_up_per_pool() {
    queue_suite::chat_lengths_add_up_per_pool(&MemoryStore::new()).await;
}

#[tokio::test]
async fn a_transfer_is_claimed_once_and_moves_capacity_when_accepted() {
    suite::a_transfer_is_claimed_once_and_moves_capacity_when_accepted(&MemoryStore::new()).await;
}

#[tokio::test]
async fn a_queue_walks_claim_holds_only_while_the_requests_ahead_are_unchanged() {
    suite::a_queue_walks_claim_holds_only_while_the_requests_ahead_are_unchanged(
        &MemoryStore::new(),
    )
    .await;
}
