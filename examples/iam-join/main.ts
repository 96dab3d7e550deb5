// The iam-join example app (the stacks are in stack.ts; README.md explains them).

import { App } from 'cdktf';
import { IamJoinStack } from './stack';

const app = new App();
new IamJoinStack(app, 'iam-join');
app.synth();
