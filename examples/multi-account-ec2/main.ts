// The multi-account-ec2 example app (the stacks are in stack.ts; README.md explains them).

import { App } from 'cdktf';
import { MultiAccountEc2Stack } from './stack';

const app = new App();
new MultiAccountEc2Stack(app, 'multi-account-ec2');
app.synth();
