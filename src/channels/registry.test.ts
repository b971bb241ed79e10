import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelFacts, channelOf, channels, recipientPlatforms, targetKindOf } from '../domain/channels.js';
import { providers } from '../domain/provider-credentials.js';
import { startSandbox } from '../sandbox/index.js';
import { channels as sandboxChannels } from '../sandbox/records.js';
import { silentLogger } from '../observability/logger.js';
import { deliveryTopicOf } from '../worker/topics.js';
import { channelDefinition, channelOfProvider, channelRegistry, contentSchemas } from './registry.js';

test('the registry lists every channel once, in the order of the plain list, each with the facts written for it', () => {
  assert.deepEqual(channelRegistry.map((c) => c.name), [...channels]);
  for (const def of channelRegistry) {
    const facts = channelFacts[def.name];
    assert.deepEqual([def.platforms, def.part, def.targetKind], [facts.platforms, facts.part, facts.targetKind]);
    assert.equal(channelDefinition(def.name), def);
    assert.equal(deliveryTopicOf(def.name), `delivery.${def.name}`, 'the topic docs/architecture.md names');
  }
});

test('every recipient platform is reached by exactly one channel, and its target kind is that channel\'s', () => {
  for (const platform of recipientPlatforms) {
    const reaching = channelRegistry.filter((c) => c.platforms.includes(platform));
    assert.equal(reaching.length, 1, platform);
    assert.equal(channelOf(platform), reaching[0]!.name);
    assert.equal(targetKindOf(platform), reaching[0]!.targetKind);
  }
});

test('a channel\'s content schema is its part\'s, the one the send API takes; every provider is one channel\'s', () => {
  for (const def of channelRegistry) assert.equal(def.content.schema, contentSchemas[def.part], def.name);
  assert.deepEqual(channelRegistry.map((c) => c.provider), [...providers]);
  for (const p of providers) assert.equal(channelOfProvider(p).provider, p);
});

test('every channel names a simulator the sandbox runs and lists records of', async () => {
  const sandbox = await startSandbox({ port: 0, log: silentLogger() });
  try {
    for (const def of channelRegistry) {
      assert.ok(sandbox.endpoints[def.simulator], `${def.name}: no ${def.simulator} simulator`);
      assert.ok((sandboxChannels as readonly string[]).includes(def.simulator), def.name);
    }
  } finally {
    await sandbox.close();
  }
});
