export { mintConnectToken, TokenError, TokenVerifier } from './auth/jwt.js';
export type { Broker, BrokerHandler, Publication, PublishOptions, PublishResult } from './broker/broker.js';
export { ConfigError, parseConfig } from './config/load.js';
export type { Config, ConfigInput, NamespaceOptions } from './config/schema.js';
export { DisconnectError, ReplyError } from './errors.js';
export { createGateway, Gateway, type GatewayOptions, WEBSOCKET_PATH } from './gateway.js';
export { version } from './version.js';
