import {
  Accordion,
  Button,
  Group,
  List,
  Modal,
  NumberInput,
  Paper,
  Radio,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
  Textarea,
} from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { ErrorNote } from './ErrorNote';
import { useNow } from './useNow';
import {
  MIN_REASON_LENGTH,
  confirmText,
  coversPhrase,
  defaultChoice,
  DOCUMENTED_LIMITS,
  type GrantLimits,
  durationPhrase,
  localTime,
  openBody,
  serversPhrase,
  toolsPhrase,
  viewerZone,
  type GrantChoice,
  type GrantDetail,
  type OpenGrantBody,
  type Viewer,
} from './words';

export interface GrantDialogProps {
  opened: boolean;
  onClose: () => void;
  viewer: Viewer;
  /** Sends the request; rejects with the API's error (the dialog shows it and keeps the form). */
  onSubmit: (body: OpenGrantBody) => Promise<GrantDetail>;
  onOpened?: (grant: GrantDetail) => void;
  /** The viewer's time zone (the browser's by default). */
  zone?: string;
  /** The gateway's durations (GET /api/v1/bypass/settings); the documented defaults until known. */
  limits?: GrantLimits;
}

/** Why the reason cannot be sent yet, or undefined. The server checks the rest of its rule. */
function reasonProblem(reason: string): string | undefined {
  const trimmed = reason.trim();
  if (!trimmed) return 'A reason is required: say what is broken and why the policy is in the way.';
  if (trimmed.length < MIN_REASON_LENGTH)
    return `A reason needs ${MIN_REASON_LENGTH} characters at least (${trimmed.length} so far): say what is broken and why the policy is in the way.`;
  return undefined;
}

/**
 * The break-glass dialog: only a reason is needed; what the grant will lift, for whom, where and
 * until when is stated in words, and the confirm button repeats it. The form lives as long as the
 * page, so a failed request or closing the dialog loses nothing; it is cleared once a grant opens.
 */
export function GrantDialog({
  opened,
  onClose,
  viewer,
  onSubmit,
  onOpened,
  zone,
  limits = DOCUMENTED_LIMITS,
}: GrantDialogProps) {
  const [choice, setChoice] = useState<GrantChoice>(() => defaultChoice(limits.defaultMinutes));
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [sending, setSending] = useState(false);
  const now = useNow(15_000);
  const tz = zone ?? viewerZone();
  const set = <K extends keyof GrantChoice>(key: K, value: GrantChoice[K]) =>
    setChoice((c) => ({ ...c, [key]: value }));

  const problem = reasonProblem(choice.reason);
  const durationOk =
    Number.isFinite(choice.durationMinutes) &&
    choice.durationMinutes >= 1 &&
    choice.durationMinutes <= limits.maxMinutes;
  const until = localTime(new Date(now + choice.durationMinutes * 60_000), tz);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (problem || !durationOk) return;
    setSending(true);
    setError(undefined);
    try {
      const grant = await onSubmit(openBody(choice));
      setChoice(defaultChoice(limits.defaultMinutes));
      setTouched(false);
      onOpened?.(grant);
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setSending(false);
    }
  }

  return (
    <Modal
      opened={opened}
      onClose={onClose}
      size="lg"
      closeButtonProps={{ 'aria-label': 'Close without opening a bypass' }}
      title={<Text fw={700}>Break glass: open a bypass</Text>}
    >
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Stack gap="md">
          <Paper
            withBorder
            p="sm"
            bg="var(--mantine-color-red-light)"
            style={{ borderColor: 'var(--mantine-color-red-filled)' }}
            data-testid="grant-summary"
          >
            <Text fw={700} size="sm" mb={4}>
              What this will do
            </Text>
            <List size="sm" spacing={2}>
              <List.Item>
                Lifts <b>policy denies</b> for <b>{coversPhrase(choice, viewer)}</b>
              </List.Item>
              <List.Item>
                On <b>{serversPhrase(choice.servers)}</b> and <b>{toolsPhrase(choice.tools)}</b>
              </List.Item>
              <List.Item>
                For <b>{durationPhrase(choice.durationMinutes)}</b>: until about <b>{until}</b> ({tz}) if it
                takes effect now
              </List.Item>
              <List.Item>
                Rate limits {choice.liftRateLimits ? <b>are lifted too</b> : <b>still apply</b>}
              </List.Item>
            </List>
            <Text size="xs" mt={6}>
              Every call stays in the audit trail. A grant cannot be extended or widened, only revoked. A
              different person reviews it within {limits.reviewHours} hours; where a server needs approval
              first, it waits for a second incident responder or admin and its time starts then.
            </Text>
          </Paper>

          <Textarea
            label="Reason"
            description="What is broken and why the policy is in the way. The approver and the reviewer read it."
            placeholder="INC-4521: payments DB failover, the deny on write_file blocks the restore"
            required
            autosize
            minRows={2}
            data-autofocus
            value={choice.reason}
            onChange={(e) => set('reason', e.currentTarget.value)}
            error={touched ? problem : undefined}
          />
          <TextInput
            label="Incident reference"
            description="Optional, e.g. INC-4711"
            value={choice.incident}
            onChange={(e) => set('incident', e.currentTarget.value)}
          />

          <Accordion variant="contained" chevronPosition="left">
            <Accordion.Item value="advanced">
              <Accordion.Control>Advanced: scope, who is covered, duration, rate limits</Accordion.Control>
              <Accordion.Panel>
                <Stack gap="sm">
                  <TagsInput
                    label="Servers"
                    description="Server name globs; * is every server. Press Enter after each."
                    value={choice.servers}
                    onChange={(v) => set('servers', v)}
                  />
                  <TagsInput
                    label="Tools"
                    description="Tool, prompt or resource globs; * is all of them."
                    value={choice.tools}
                    onChange={(v) => set('tools', v)}
                  />
                  <Radio.Group<GrantChoice['coverage']>
                    label="Who is covered"
                    value={choice.coverage}
                    onChange={(v) => set('coverage', v)}
                  >
                    <Group mt={4}>
                      <Radio value="me" label="Only me" />
                      <Radio value="people" label="Named people or groups" />
                      <Radio value="everyone" label="Everyone" />
                    </Group>
                  </Radio.Group>
                  {choice.coverage === 'people' && (
                    <>
                      <TagsInput
                        label="Users"
                        description="Subjects (sub) exactly as the IdP sends them, e.g. bob"
                        value={choice.users}
                        onChange={(v) => set('users', v)}
                      />
                      <TagsInput label="Groups" value={choice.groups} onChange={(v) => set('groups', v)} />
                    </>
                  )}
                  <NumberInput
                    label="Duration in minutes"
                    description={`At most ${durationPhrase(limits.maxMinutes)}`}
                    min={1}
                    max={limits.maxMinutes}
                    allowDecimal={false}
                    value={choice.durationMinutes}
                    onChange={(v) => set('durationMinutes', typeof v === 'number' ? v : Number(v))}
                    error={
                      touched && !durationOk
                        ? `Choose between 1 minute and ${durationPhrase(limits.maxMinutes)}`
                        : undefined
                    }
                  />
                  <Switch
                    label="Lift rate limits too"
                    checked={choice.liftRateLimits}
                    onChange={(e) => set('liftRateLimits', e.currentTarget.checked)}
                  />
                  <Switch
                    label="Ask a second person to approve it first"
                    checked={choice.requireApproval}
                    onChange={(e) => set('requireApproval', e.currentTarget.checked)}
                  />
                </Stack>
              </Accordion.Panel>
            </Accordion.Item>
          </Accordion>

          {error !== undefined && <ErrorNote error={error} title="The bypass was not opened" />}

          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" color="red.9" loading={sending}>
              {confirmText(choice, viewer)}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
