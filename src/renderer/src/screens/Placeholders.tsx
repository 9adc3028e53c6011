import { useApi } from '../api/context';
import { ComingWith } from '../components/common';

// Screens whose service has not landed: they say what they wait for instead of showing a fake.

export function GenerateScreen() {
  const { info } = useApi();
  return (
    <div className="screen">
      <ComingWith
        what="Generation (provider settings, dry-run plan with cost, live progress)"
        service="generation queue service"
      >
        {info?.capabilities.generation
          ? 'The service is present; this screen is being wired.'
          : 'src/main/generation has no queue yet.'}
      </ComingWith>
    </div>
  );
}

export function TrainScreen() {
  return (
    <div className="screen">
      <ComingWith what="Training (LoRA runs, loss curve, checkpoints)" service="training service" />
    </div>
  );
}

export function EvaluateScreen() {
  return (
    <div className="screen">
      <ComingWith what="Evaluation (comparison table with delta vs base)" service="evaluation service" />
    </div>
  );
}
