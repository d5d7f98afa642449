//! Reads a consumer group's position from the brokers: partitions (metadata), committed
//! offsets (a librdkafka consumer with the group's `group.id`, never subscribed, so it does
//! not join the group), watermarks, and the group's members (librdkafka's
//! DescribeConsumerGroups, which asks with ConsumerGroupDescribe for KIP-848 groups and falls
//! back to DescribeGroups). librdkafka calls block: [`read_groups`] runs them on tokio's
//! blocking pool, each bounded by the timeout.
//!
//! The dev broker (librdkafka's mock cluster) answers neither describe request, so there the
//! members are unknown and shown as `-`; offsets and lag still work.

use super::{assemble, GroupLag, Member, Membership};
use rdkafka::client::Client;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use rdkafka_sys as rdsys;
use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::time::Duration;

/// What to read for one consumer group.
#[derive(Debug, Clone)]
pub struct GroupQuery {
    /// The consumer's name.
    pub consumer: String,
    /// Its group id.
    pub group: String,
    /// Its topics.
    pub topics: Vec<String>,
    /// `bootstrap.servers`.
    pub brokers: String,
    /// Connection settings from the consumer's `kafka:` (`security.*`, `ssl.*`, `sasl.*`,
    /// ...), so the reader reaches the brokers the way the workers do.
    pub connection: BTreeMap<String, String>,
    /// Bound on each request.
    pub timeout: Duration,
}

/// A client context that keeps librdkafka's logs and connection errors to itself: the reader
/// reports what failed in its result (and `check`'s output must stay one line).
struct Quiet;

impl ClientContext for Quiet {
    fn log(&self, _level: RDKafkaLogLevel, _fac: &str, _log_message: &str) {}

    fn error(&self, _error: rdkafka::error::KafkaError, _reason: &str) {}
}

impl rdkafka::consumer::ConsumerContext for Quiet {}

/// Reads every group at once on the blocking pool; results in input order.
pub async fn read_groups(queries: Vec<GroupQuery>) -> Vec<Result<GroupLag, String>> {
    let tasks: Vec<_> = queries
        .into_iter()
        .map(|q| tokio::task::spawn_blocking(move || read_group(&q)))
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap_or_else(|e| Err(e.to_string())));
    }
    out
}

/// Reads one group (blocking).
///
/// # Errors
/// Why the offsets could not be read: the brokers cannot be reached, a topic does not exist.
pub fn read_group(q: &GroupQuery) -> Result<GroupLag, String> {
    let mut config = ClientConfig::new();
    for (key, value) in &q.connection {
        config.set(key, value);
    }
    config
        .set("bootstrap.servers", &q.brokers)
        .set("group.id", &q.group)
        .set("client.id", "kafkactl-lag")
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer<Quiet> = config
        .create_with_context(Quiet)
        .map_err(|e| format!("cannot create a Kafka client: {e}"))?;
    let unreachable = |e: rdkafka::error::KafkaError| {
        format!(
            "cannot read from the brokers {} within {:?}: {e}",
            q.brokers, q.timeout
        )
    };
    let mut partitions: Vec<(String, i32)> = Vec::new();
    for topic in &q.topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), q.timeout)
            .map_err(unreachable)?;
        let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Err(format!("topic {topic}: not in the brokers' metadata"));
        };
        if let Some(err) = t.error() {
            return Err(format!(
                "topic {topic}: {}",
                rdkafka::error::RDKafkaErrorCode::from(err)
            ));
        }
        partitions.extend(t.partitions().iter().map(|p| (topic.clone(), p.id())));
    }
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in &partitions {
        tpl.add_partition(topic, *partition);
    }
    let committed_list = consumer
        .committed_offsets(tpl, q.timeout)
        .map_err(|e| format!("cannot read the committed offsets of {}: {e}", q.group))?;
    let mut committed = BTreeMap::new();
    for elem in committed_list.elements() {
        if let Offset::Offset(n) = elem.offset() {
            committed.insert((elem.topic().to_string(), elem.partition()), n);
        }
    }
    let mut watermarks = Vec::new();
    for (topic, partition) in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, *partition, q.timeout)
            .map_err(unreachable)?;
        watermarks.push((topic.clone(), *partition, low, high));
    }
    let members = describe(consumer.client(), &q.group, q.timeout);
    Ok(assemble(
        &q.consumer,
        &q.group,
        &watermarks,
        &committed,
        members,
    ))
}

/// Describes `group` with librdkafka's DescribeConsumerGroups (blocking, bounded).
fn describe<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    timeout: Duration,
) -> Result<Membership, String> {
    let name = CString::new(group).map_err(|e| e.to_string())?;
    let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let rk = client.native_ptr();
    // SAFETY: `rk` is valid for the life of `client`; every object created here is destroyed
    // before returning, and the strings read from the result event are copied out before
    // the event is destroyed.
    unsafe {
        let queue = rdsys::rd_kafka_queue_new(rk);
        let options = rdsys::rd_kafka_AdminOptions_new(
            rk,
            rdsys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS,
        );
        let mut errstr = [0 as std::ffi::c_char; 256];
        rdsys::rd_kafka_AdminOptions_set_request_timeout(
            options,
            timeout_ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        let mut groups = [name.as_ptr()];
        rdsys::rd_kafka_DescribeConsumerGroups(rk, groups.as_mut_ptr(), 1, options, queue);
        rdsys::rd_kafka_AdminOptions_destroy(options);
        let event = rdsys::rd_kafka_queue_poll(queue, timeout_ms.saturating_add(1000));
        let result = if event.is_null() {
            Err(format!("no answer within {timeout:?}"))
        } else {
            let parsed = membership(event);
            rdsys::rd_kafka_event_destroy(event);
            parsed
        };
        rdsys::rd_kafka_queue_destroy(queue);
        result
    }
}

/// Reads a DescribeConsumerGroups result event.
///
/// # Safety
/// `event` must be a live DescribeConsumerGroups result event.
unsafe fn membership(event: *mut rdsys::rd_kafka_event_t) -> Result<Membership, String> {
    let text = |p: *const std::ffi::c_char| {
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    if rdsys::rd_kafka_event_error(event) != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
    {
        return Err(text(rdsys::rd_kafka_event_error_string(event)));
    }
    let result = rdsys::rd_kafka_event_DescribeConsumerGroups_result(event);
    if result.is_null() {
        return Err("not a DescribeConsumerGroups result".into());
    }
    let mut count = 0usize;
    let groups = rdsys::rd_kafka_DescribeConsumerGroups_result_groups(result, &mut count);
    if count == 0 || groups.is_null() {
        return Err("the group was not described".into());
    }
    let desc = *groups;
    let error = rdsys::rd_kafka_ConsumerGroupDescription_error(desc);
    if !error.is_null() {
        return Err(text(rdsys::rd_kafka_error_string(error)));
    }
    let state = text(rdsys::rd_kafka_consumer_group_state_name(
        rdsys::rd_kafka_ConsumerGroupDescription_state(desc),
    ));
    let mut members = Vec::new();
    for i in 0..rdsys::rd_kafka_ConsumerGroupDescription_member_count(desc) {
        let member = rdsys::rd_kafka_ConsumerGroupDescription_member(desc, i);
        if member.is_null() {
            continue;
        }
        let mut partitions = Vec::new();
        let assignment = rdsys::rd_kafka_MemberDescription_assignment(member);
        if !assignment.is_null() {
            let list = rdsys::rd_kafka_MemberAssignment_partitions(assignment);
            if !list.is_null() && !(*list).elems.is_null() {
                let elems = std::slice::from_raw_parts((*list).elems, (*list).cnt.max(0) as usize);
                partitions.extend(elems.iter().map(|e| (text(e.topic), e.partition)));
            }
        }
        members.push(Member {
            client_id: text(rdsys::rd_kafka_MemberDescription_client_id(member)),
            host: text(rdsys::rd_kafka_MemberDescription_host(member)),
            partitions,
        });
    }
    Ok(Membership { state, members })
}
