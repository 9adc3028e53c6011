import { ComingWith } from '../components/common';

// Screens whose service has not landed: they say what they wait for instead of showing a fake.

export function TrainScreen() {
  return (
    <div className="screen">
      <ComingWith what="Training (LoRA runs, loss curve, checkpoints)" service="training service" />
    </div>
  );
}
