import type { Api } from './app.js';

/**
 * A two-member group with history: adds, a delete, an edit and a payment (8 events).
 * Bob's balance ends at -2.00.
 */
export async function busyGroup(api: Api, prefix: string) {
  const ann = await api.signUp('Ann', `${prefix}-ann`);
  const bob = await api.signUp('Bob', `${prefix}-bob`);
  const g = (await ann.api.post('/groups', { groupId: `${prefix}-g`, name: 'G', currency: 'USD', members: [bob.userId] })).body.groupId as string;
  const add = (id: string, amount: string, paidBy: string) =>
    ann.api.post(`/groups/${g}/expenses`, { expenseId: id, description: `Item ${id}`, amount, paidBy, split: { mode: 'equal' } });
  await add('e1', '10.00', ann.userId);
  await add('e2', '3.01', bob.userId);
  await add('e3', '7.00', ann.userId);
  await ann.api.delete(`/groups/${g}/expenses/e3`);
  await ann.api.put(`/groups/${g}/expenses/e2`, { description: 'Item e2', amount: '4.00', paidBy: bob.userId, split: { mode: 'equal' } });
  await bob.api.post(`/groups/${g}/expenses`, {
    kind: 'payment',
    description: 'Pay back',
    amount: '1.00',
    paidBy: bob.userId,
    split: { mode: 'equal', among: [ann.userId] },
  });
  return { g, ann, bob };
}
