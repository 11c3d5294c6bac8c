import type { ChannelOptions } from '@grpc/grpc-js';

/** TensorFlow Serving raises gRPC's message size limits to the int32 maximum; so do we. */
export const MAX_MESSAGE_BYTES = 2_147_483_647;

/** Channel options matching what TF Serving's own server and clients use, plus keepalive. */
export const DEFAULT_CHANNEL_OPTIONS: Readonly<ChannelOptions> = Object.freeze({
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 0,
});
